"""The check modes, each a ``Mode`` in ``REGISTRY``: its name, what it needs, and ``run(layer_names, context)``.

snapshot and sweep check a layer alone; hybrid and train check it inside torch's LeNet (harness/swap.py).
Each returns CheckResults in reading order (forward, then backward), so CheckRun.first_failure is the
first divergence. May import lenet_parity, reference, custom_layers and the rest of harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from lenet_parity.vocabulary import DTYPES, FLOAT64, HYBRID, MODES, SNAPSHOT, STATE, SWEEP, TRAIN

if TYPE_CHECKING:
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.results import CheckResult


@dataclass(frozen=True)
class Mode:
    name: str
    summary: str  # one line for --help and the README
    run: Callable[[list[str], "CheckContext"], "list[CheckResult]"]
    needs_phase0: bool = False
    needs_weights: bool = False
    needs_torch: bool = True
    dtypes: tuple[str, ...] = DTYPES  # the dtypes it runs in
    dtypes_why: str = ""  # why it skips the others


# Each run function imports its module when called: all but the snapshot mode import torch (~1 s).

def _snapshot(names, context):
    from lenet_parity.harness.modes.snapshot import run_snapshot
    return run_snapshot(names, context)


def _state(names, context):
    from lenet_parity.harness.modes.state import run_state
    return run_state(names, context)


def _hybrid(names, context):
    from lenet_parity.harness.modes.hybrid import run_hybrid
    return run_hybrid(names, context)


def _sweep(names, context):
    from lenet_parity.harness.modes.sweep import run_sweep
    return run_sweep(names, context)


def _train(names, context):
    from lenet_parity.harness.modes.train_steps import run_train
    return run_train(names, context)


REGISTRY: dict[str, Mode] = {mode.name: mode for mode in (
    Mode(SNAPSHOT, "each layer alone against Phase 0's recorded tensors (no torch)", _snapshot,
         needs_phase0=True, needs_torch=False),
    Mode(STATE, "side effects and state: dtype kept, inputs left unchanged, latest input used, grads overwritten",
         _state, needs_phase0=True, needs_torch=False),
    Mode(HYBRID, "the layers swapped into torch's LeNet on the Phase 0 batch", _hybrid,
         needs_phase0=True, needs_weights=True),
    Mode(SWEEP, "each layer alone against torch.nn.functional on other shapes and nasty values", _sweep),
    # Over 20 steps float32 rounding can flip a near-tied max-pool window or a ReLU at ~0 (measured with our
    # correct NumPy conv layers: the loss gap jumps from 2e-7 to 3e-6 at step 16, conv1.weight off by 3.4e-5),
    # a discrete change no float32 tolerance separates from a bug. float64 keeps such ties below 1e-15.
    Mode(TRAIN, "SGD steps on MNIST batches, the hybrid LeNet against torch", _train,
         needs_weights=True, dtypes=(FLOAT64,),
         dtypes_why="float32 rounding flips near-tied maxima over many steps, so the train mode runs in float64"),
)}
assert tuple(REGISTRY) == MODES, "the registry lists the modes in the vocabulary's order"
