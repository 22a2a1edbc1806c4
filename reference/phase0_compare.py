"""Is a Phase 0 capture made elsewhere the same capture as another, up to round-off?

Torch picks its CPU kernels by instruction set (AVX512, AVX2, none): they sum in another order, so the bytes of
Phase 0 are reproducible only on one CPU kind. Across kinds, every recorded tensor must agree within a bound per
dtype, measured against the tensor's scale. A real change (another weight, batch, layer or formula) moves values
by orders of magnitude more than these bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_parity.reference.phase0_format import Capture, LayerRecord, Phase0

# Largest |a - b| / scale allowed between two captures of one dtype made on different CPUs. Measured with torch
# 2.14.1 on an AMD EPYC by forcing each kernel set (ATEN_CPU_CAPABILITY=avx2|default against the committed
# avx512 file), worst tensor of both models: float32 5.5e-6, float64 7.7e-15; reported on an Intel Xeon (AVX512,
# where oneDNN picks other convolution kernels): float32 4e-5, float64 3e-15. Each bound leaves 5x over the worst
# seen, and sits far below the smallest real change the tests plant (one value off by 1e-3 of its scale).
REPRODUCTION_BOUNDS = {"float32": 2e-4, "float64": 5e-14}


@dataclass(frozen=True)
class TensorDistance:
    where: str  # "lenet/float32 conv1.dx"
    dtype: str
    max_abs: float
    scale: float

    @property
    def ratio(self) -> float:
        return self.max_abs / self.scale if self.scale else (0.0 if self.max_abs == 0 else float("inf"))

    @property
    def within(self) -> bool:
        return self.ratio <= REPRODUCTION_BOUNDS[self.dtype]


def _tensors(record: LayerRecord) -> dict[str, tuple[np.ndarray, bool]]:
    """A layer's recorded tensors by name, each with whether it is a gradient (its scale includes dy's)."""
    tensors = {"x": (record.x, False), "y": (record.y, False), "dy": (record.dy, True), "dx": (record.dx, True)}
    tensors.update({f"params.{k}": (v, False) for k, v in record.params.items()})
    tensors.update({f"grads.{k}": (v, True) for k, v in record.grads.items()})
    tensors.update({f"buffers_after.{k}": (v, False) for k, v in record.buffers_after.items()})
    if record.mask is not None:
        tensors["mask"] = (record.mask, False)
    return tensors


def _distance(where: str, dtype: str, got: np.ndarray, want: np.ndarray, floor: float = 0.0) -> TensorDistance:
    """``floor``: the scale of what a gradient sums (its layer's dy), so a sum that cancels to ~0 (a bias before
    batchnorm, whose true gradient is 0) is judged against its terms, not against its own round-off."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return TensorDistance(f"{where} (shape {got.shape} vs {want.shape})", dtype, float("inf"), 1.0)
    scale = max(float(np.abs(want).max(initial=0.0)), floor)
    return TensorDistance(where, dtype, float(np.abs(got - want).max(initial=0.0)), scale)


def _capture_distances(label: str, dtype: str, ours: Capture, theirs: Capture) -> list[TensorDistance]:
    out = [_distance(f"{label} input", dtype, ours.input, theirs.input),
           _distance(f"{label} log_probs", dtype, ours.log_probs, theirs.log_probs),
           _distance(f"{label} loss", dtype, np.array(ours.loss), np.array(theirs.loss))]
    if [r.name for r in ours.layers] != [r.name for r in theirs.layers] or ours.targets != theirs.targets:
        return out + [TensorDistance(f"{label} layers or targets differ", dtype, float("inf"), 1.0)]
    for mine, recorded in zip(ours.layers, theirs.layers):
        theirs_tensors = _tensors(recorded)
        dy_scale = float(np.abs(recorded.dy).max(initial=0.0))
        for name, (value, is_grad) in _tensors(mine).items():
            where = f"{label} {mine.name}.{name}"
            if name not in theirs_tensors:
                out.append(TensorDistance(f"{where} (missing)", dtype, float("inf"), 1.0))
                continue
            out.append(_distance(where, dtype, value, theirs_tensors[name][0], dy_scale if is_grad else 0.0))
    return out


def reproduction_distances(ours: Phase0, theirs: Phase0) -> list[TensorDistance]:
    """Every recorded tensor of ``ours`` against the same tensor of ``theirs``, worst first."""
    if ours.captures.keys() != theirs.captures.keys():
        return [TensorDistance("the captured models or dtypes differ", "float64", float("inf"), 1.0)]
    distances = [d for (model, dtype), capture in ours.captures.items()
                 for d in _capture_distances(f"{model}/{dtype}", dtype, capture, theirs.captures[(model, dtype)])]
    return sorted(distances, key=lambda d: d.ratio / REPRODUCTION_BOUNDS[d.dtype], reverse=True)
