"""The reference LeNet-5 in PyTorch: named submodules in forward order, He initialisation."""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.layers import LayerSpec, layer_plan, loss_spec


class Residual(nn.Module):
    """y = x + conv2d(x, weight, bias, padding=k//2): a shape-preserving residual connection."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.channels, self.kernel_size = channels, kernel_size
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.conv2d(x, self.weight, self.bias, padding=self.kernel_size // 2)  # (N, C, H, W)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"


class Dropout(nn.Dropout):
    """Inverted dropout that keeps its mask, so a check can hand torch's mask to a custom layer.

    ``last_mask`` is the scaled keep-mask (0 or 1/(1-p)) of the last training forward; set
    ``next_mask`` to force the mask of the next forward (Phase 0 and hybrid checks do).
    """

    def __init__(self, p: float = 0.5):
        super().__init__(p)
        self.last_mask: torch.Tensor | None = None
        self.next_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.next_mask is not None:
            mask, self.next_mask = self.next_mask.to(x.dtype), None
        else:
            mask = torch.empty_like(x).bernoulli_(1 - self.p) / (1 - self.p)
        self.last_mask = mask
        return x * mask


_TORCH_CLASSES = {
    "Conv2d": nn.Conv2d,
    "MaxPool2d": nn.MaxPool2d,
    "ReLU": nn.ReLU,
    "Tanh": nn.Tanh,
    "Sigmoid": nn.Sigmoid,
    "AvgPool2d": nn.AvgPool2d,
    "Softmax": nn.Softmax,
    "Linear": nn.Linear,
    "Flatten": nn.Flatten,
    "LogSoftmax": nn.LogSoftmax,
    "BatchNorm2d": nn.BatchNorm2d,
    "BatchNorm1d": nn.BatchNorm1d,
    "Dropout": Dropout,
    "Residual": Residual,
    "NLLLoss": nn.NLLLoss,
    "CrossEntropyLoss": nn.CrossEntropyLoss,
}


def build_torch_layer(spec: LayerSpec) -> nn.Module:
    return _TORCH_CLASSES[spec.cls](**spec.kwargs)


def _nll_of_probabilities(p: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.nll_loss(torch.log(p), target, reduction=reduction)  # a softmax head's loss (the variants model's)


_LOSSES = {"logsoftmax": F.nll_loss, "softmax": _nll_of_probabilities, "logits": F.cross_entropy}


def loss_function(config: LeNetConfig):
    """The loss of the model's output and the int64 targets as its head needs: ``fn(output, target,
    reduction="mean")``, the mean over the batch (or "sum")."""
    return _LOSSES[config.head]


class LeNet(nn.Module):
    """LeNet-5: conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1 relu3 fc2 relu4 fc3 logsoftmax.

    Shapes for MNIST: (N,1,28,28) -conv1-> (N,6,24,24) -pool1-> (N,6,12,12) -conv2-> (N,16,8,8)
    -pool2-> (N,16,4,4) -flatten-> (N,256) -fc1-> 120 -fc2-> 84 -fc3-> 10 -> log-probabilities.
    The config changes the layers (reference/layers.py): LENET5_CONFIG is the 1998 network, tanh and average
    pooling, conv1 padded (28x28 -> 28x28 -> 14 -> 10 -> 5: 400 features), fc3's logits the output.
    """

    def __init__(self, config: LeNetConfig = LeNetConfig()):
        super().__init__()
        self.config = config
        self.plan = layer_plan(config)
        for spec in self.plan:
            self.add_module(spec.name, build_torch_layer(spec))
        init_he(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for spec in self.plan:
            x = getattr(self, spec.name)(x)
        return x  # (N, num_classes): log-probabilities, probabilities or logits, by config.head

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return loss_function(self.config)(output, target)

    @property
    def loss_spec(self) -> LayerSpec | None:
        return loss_spec(self.config)

    def layer_names(self) -> list[str]:
        return [spec.name for spec in self.plan]


def _he_normal_(weight: torch.Tensor, gain: float = 2.0) -> None:
    """kaiming_normal_(weight, mode="fan_in", nonlinearity="relu") (gain 2: ReLU's; 1: LeCun's normal, for tanh),
    drawn in float64 and rounded to the weight's dtype.

    torch draws float32 normals with vectorised kernels whose rounding depends on the CPU (an AVX2 or AVX512 CPU
    and one without them disagree in the last bit); its float64 draw is the same scalar code everywhere, so the
    seed-42 weights are the same bytes on every CPU."""
    fan_in = math.prod(weight.shape[1:])  # in_channels * kh * kw, or in_features
    std = math.sqrt(gain / fan_in)  # ReLU's sqrt(2), or 1, over sqrt(fan_in)
    with torch.no_grad():
        weight.copy_(torch.empty(weight.shape, dtype=torch.float64).normal_(0.0, std))


def init_he(model: nn.Module) -> None:
    """He (Kaiming) normal weights for ReLU, zero biases; residual convs start small. A tanh or sigmoid network
    (model.config.activation) gets LeCun's normal, std 1/sqrt(fan_in), as the 1998 paper scaled its weights."""
    config = getattr(model, "config", None)
    gain = 2.0 if config is None or config.activation == "relu" else 1.0
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            _he_normal_(module.weight, gain)
            nn.init.zeros_(module.bias)
        elif isinstance(module, Residual):
            _he_normal_(module.weight)
            with torch.no_grad():
                module.weight.mul_(0.1)  # start near the identity so the block does not swamp its input
            nn.init.zeros_(module.bias)
