"""The PyTorch gold standard: config, model, data, training, weights export and the Phase 0 capture."""
