"""Matplotlib on the Agg backend (no display), atomic PNG writes, and one colour per experiment variant."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402

from lenet_parity.atomic import atomic_open  # noqa: E402

DPI = 100


def save(fig, path: Path) -> Path:
    """Write the figure as PNG in one rename, then free it."""
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def variant_colour(name: str):
    """clean black; jitter in blues and corruption in reds, darker for higher rates."""
    if name == "clean" or name.startswith("clean"):
        return "black"
    kind, _, rest = name.partition("-")
    rate = float(rest.replace("pct", "") or 0) / 100
    cmap = plt.get_cmap("Blues" if kind == "jitter" else "Reds")
    return cmap(0.35 + 3 * rate)  # 5% -> 0.5, 20% -> 0.95


def read_log(run_dir: Path) -> list[dict[str, str]]:
    with open(Path(run_dir) / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def subplots(*args, **kwargs):
    kwargs.setdefault("layout", "constrained")  # no blank bands around suptitles and colour bars
    return plt.subplots(*args, **kwargs)


def figure(**kwargs):
    return plt.figure(**kwargs)
