"""The PyTorch gold standard: config, model, data, training, weights export and the Phase 0 capture.

May import lenet_parity (the shared basics) only: never custom_layers, custom_lenet, harness or experiments.
"""
