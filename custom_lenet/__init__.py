"""The fully custom LeNet: assembled from custom_layers, trained, run and followed in lockstep against torch.

May import lenet_parity, reference and custom_layers (and the harness's tolerance table for infer --compare); never the checks.
"""
