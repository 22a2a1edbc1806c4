"""Phase 0, the golden capture (_reference.json), shipped as package data so the checks find it from any folder."""
