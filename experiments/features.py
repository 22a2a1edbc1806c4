"""MNISTWithFeats: seeded training-set corruptions (pixel jitter, label noise) and two hand-made image features.

LeNetWithFeats is the reference LeNet with the features appended to fc1's input (torch.cat before nn.Linear).
Images here are normalised (N, C, H, W) float32 tensors as load_splits hands them out; "raw" means [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.datasets import normalise
from lenet_parity.reference.determinism import torch_generator
from lenet_parity.reference.model import LeNet

FEATURES = ("symmetry", "intensity")  # the columns of features(): their order in fc1's input
ON_THRESHOLD = 0.5  # a raw pixel at or above this counts as "on"; jitter turns it off, and vice versa


def check_rate(p: float, what: str) -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{what} rate must be in [0, 1], got {p}")
    return float(p)


def _channel(values, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype).reshape(-1, 1, 1)  # (C, 1, 1)


def raw_pixels(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Undo Normalize: normalised (N, C, H, W) -> raw [0, 1] pixels (within float rounding)."""
    return x * _channel(std, x) + _channel(mean, x)


def symmetry_map(raw: torch.Tensor) -> torch.Tensor:
    """|x - mirror(x)|: each pixel against its horizontal mirror (left-right flip); (N, C, H, W)."""
    return (raw - raw.flip(-1)).abs()


def symmetry_feature(raw: torch.Tensor) -> torch.Tensor:
    """Mean of the symmetry map: 0 for a mirror-symmetric image, larger the less symmetric it is; (N,)."""
    return symmetry_map(raw).mean(dim=(1, 2, 3))


def intensity_feature(raw: torch.Tensor) -> torch.Tensor:
    """Mean raw pixel intensity in [0, 1]; (N,)."""
    return raw.mean(dim=(1, 2, 3))


def features(raw: torch.Tensor) -> torch.Tensor:
    """The auxiliary inputs, columns in FEATURES order: (N, 2)."""
    if raw.dim() != 4:
        raise ValueError(f"features need images (N, C, H, W), got shape {tuple(raw.shape)}")
    return torch.stack([symmetry_feature(raw), intensity_feature(raw)], dim=1)


def jitter_pixels(x: torch.Tensor, p: float, *, mean, std, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip a seeded fraction p of the pixels: an off pixel turns fully on (raw 1), an on pixel fully off (raw 0).

    Returns (jittered x, boolean mask of the flipped pixels). One uniform number is drawn per pixel whatever p
    is, so with one seed the pixels flipped at 5% are a subset of those flipped at 10%. Untouched pixels keep
    their exact bits; flipped ones get exactly the normalised value of a 0 or 255 pixel.
    """
    check_rate(p, "jitter")
    u = torch.rand(x.shape, generator=generator)  # (N, C, H, W)
    mask = u < p
    levels = normalise(torch.tensor([0, 255], dtype=torch.uint8).reshape(1, 1, 1, 2).expand(1, x.shape[1], 1, 2),
                       mean, std).to(x.dtype)  # (1, C, 1, 2): normalised off and on, as load_splits makes them
    off, on = levels[..., :1], levels[..., 1:]
    is_on = raw_pixels(x, mean, std) >= ON_THRESHOLD
    return torch.where(mask, torch.where(is_on, off, on), x), mask


def corrupt_labels(y: torch.Tensor, p: float, *, num_classes: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Give round(p * N) seeded labels another class, uniform over the other num_classes - 1.

    Returns (new labels, sorted indices of the corrupted ones). The permutation and the offsets are drawn
    for all N whatever p is, so with one seed the 5% set is a subset of the 10% set, with the same new labels.
    """
    check_rate(p, "corruption")
    if num_classes < 2:
        raise ValueError(f"label corruption needs at least 2 classes, got {num_classes}")
    n = len(y)
    perm = torch.randperm(n, generator=generator)
    offsets = torch.randint(1, num_classes, (n,), generator=generator)  # never 0: the class always changes
    idx = perm[:round(p * n)]
    y_new = y.clone()
    y_new[idx] = (y[idx] + offsets[:len(idx)]) % num_classes
    return y_new, idx.sort().values


class MNISTWithFeats(Dataset):
    """One split with optional pixel jitter and label corruption, plus its features; items are (x, feats, y).

    ``tensors`` gives (x, y) for the shared training loop. Jitter and corruption are drawn once (seeded),
    so a resumed run sees the same data.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, mean, std, num_classes: int = 10,
                 jitter: float = 0.0, corrupt: float = 0.0, seed: int = 0):
        if x.dim() != 4 or len(x) != len(y):
            raise ValueError(f"need images (N, C, H, W) and N labels, got {tuple(x.shape)} and {tuple(y.shape)}")
        self.mean, self.std, self.seed = tuple(mean), tuple(std), seed
        self.jitter, self.corrupt = check_rate(jitter, "jitter"), check_rate(corrupt, "corruption")
        self.y_original = y
        self.flipped_fraction = 0.0
        if jitter > 0:
            x, mask = jitter_pixels(x, jitter, mean=mean, std=std, generator=torch_generator(seed * 1_000_003 + 101))
            self.flipped_fraction = float(mask.float().mean())
        self.corrupted = torch.zeros(0, dtype=torch.int64)
        if corrupt > 0:
            y, self.corrupted = corrupt_labels(y, corrupt, num_classes=num_classes,
                                               generator=torch_generator(seed * 1_000_003 + 202))
        self.x, self.y = x, y
        self.feats = features(raw_pixels(x, mean, std))  # (N, 2): of the images the model sees

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.feats[i], self.y[i]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y

    def record(self, positions_to_source: torch.Tensor | None = None) -> dict[str, Any]:
        """What was done, for corruption.json: every corrupted index with its original and new label."""
        idx = self.corrupted
        return {
            "seed": self.seed, "size": len(self),
            "jitter": {"rate": self.jitter, "flipped_fraction": self.flipped_fraction,
                       "rule": f"seeded pixel flip: raw >= {ON_THRESHOLD} -> 0, else -> 1"},
            "corrupt": {"rate": self.corrupt, "count": len(idx), "indices": idx.tolist(),
                        "source_indices": positions_to_source[idx].tolist() if positions_to_source is not None else None,
                        "original": self.y_original[idx].tolist(), "new": self.y[idx].tolist()},
        }


class LeNetWithFeats(LeNet):
    """The reference LeNet with its input's two features concatenated to fc1's input: (N, flat + 2) -> 120.

    The features are computed from the input itself, so a shifted or jittered image gets its own features.
    """

    def __init__(self, config: LeNetConfig = LeNetConfig(), *, mean, std):
        super().__init__(config)
        self.fc1 = nn.Linear(config.flat_features + len(FEATURES), 120)
        nn.init.kaiming_normal_(self.fc1.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.fc1.bias)
        self.register_buffer("pixel_mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = features(raw_pixels(x, self.pixel_mean.to(x.dtype), self.pixel_std.to(x.dtype)))  # (N, 2)
        for spec in self.plan:
            if spec.name == "fc1":
                x = torch.cat([x, f], dim=1)  # (N, flat + 2)
            x = getattr(self, spec.name)(x)
        return x  # (N, num_classes) log-probabilities
