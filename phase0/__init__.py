"""The golden captures shipped as package data, so the checks find them from any folder: Phase 0 (_reference.json)
and the train mode's MNIST batches (_train_batches.json)."""
