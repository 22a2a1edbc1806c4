"""What a check mode is given: the layers to build, the dtype, the golden files, the tolerances and the options.

``CheckContext`` replaces long parameter chains: the check runner builds one per run and hands a copy per
dtype to each mode (``context.for_dtype``); tests build their own to inject a factory or a Phase 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from lenet_parity.harness.tolerances import Tolerance, tolerance
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.reference.phase0_format import Phase0
from lenet_parity.vocabulary import (DEFAULT_DATA_ROOT, DEFAULT_PHASE0, DEFAULT_SEED, FLOAT64, LENET, LENET_SCOPE,
                                     default_weights)

LayerMaker = Callable[[LayerSpec], Any]  # spec -> a fresh layer object (harness/layer_factory.py)


@dataclass(frozen=True)
class TrainOptions:
    """The train mode's recipe: SGD with momentum on the first ``steps`` batches of epoch 1."""

    steps: int = 20
    batch_size: int | None = None  # None: 32, or 8 when the layers are pure Python (~100x slower)
    lr: float = 0.01
    momentum: float = 0.9
    seed: int = 42  # the batch order's seed, as the training loop's


@dataclass(frozen=True)
class CheckContext:
    make_layer: LayerMaker  # builds the layers under test from their specs
    phase0: Phase0 | None = None  # the loaded golden file (snapshot and hybrid need it; the runner loads it)
    phase0_path: Path = DEFAULT_PHASE0
    weights_path: Path | None = None  # the reference model's weights (hybrid and train); None: its shipped file
    model: str | None = None  # the reference model (vocabulary.REFERENCE_MODELS); None: LeNet, or where the type is
    data_root: Path = DEFAULT_DATA_ROOT  # MNIST, for the train mode
    dtype: str = FLOAT64
    tol: Tolerance | None = None  # one tolerance for every tensor; None: the table in harness/tolerances.py
    scope: str = LENET_SCOPE  # which of the sweep's other configurations a layer must support (vocabulary.SCOPES)
    seed: int = DEFAULT_SEED  # the seed of the sweep's random inputs and params, combined with each case's key
    train: TrainOptions = TrainOptions()
    strict: bool = False  # deviations that change no value (a float64 result, a write into dy) fail too
    notes: list[str] = field(default_factory=list)  # what was not checked and why; shared by the copies

    def for_dtype(self, dtype: str) -> CheckContext:
        return replace(self, dtype=dtype)

    @property
    def reference_model(self) -> str:
        return self.model or LENET

    @property
    def weights(self) -> Path:
        """The weights file of the reference model: the one given, else the shipped one."""
        return Path(self.weights_path) if self.weights_path is not None else default_weights(self.reference_model)

    def tolerance(self, tensor_kind: str) -> Tolerance:
        """The override if one was given, else the table's entry for this dtype and tensor kind."""
        return self.tol or tolerance(self.dtype, tensor_kind)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
