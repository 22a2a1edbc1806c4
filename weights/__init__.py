"""The seed-42 initial weights (lenet_seed42.json), shipped as package data so the checks find them from any folder."""
