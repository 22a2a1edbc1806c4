"""The project's vocabulary, defined once: backends, check modes, dtypes, tensor names, model names, default paths.

Plain string constants (they go into JSON, CSV and click choices as they are); every other module imports
them from here instead of typing the words again.
"""

from __future__ import annotations

import os
from pathlib import Path

# ---- backends: who computes a layer ----
TORCH, NUMPY, PYTHON = "torch", "numpy", "python"
LAYER_BACKENDS = (NUMPY, PYTHON)  # our from-scratch layers (custom_layers/numpy, custom_layers/python)
TRAIN_BACKENDS = (TORCH, NUMPY, PYTHON)  # what can train or run a whole LeNet


def default_dtype(backend: str) -> str:
    """float64 for the pure-Python backend (its floats are Python's doubles), float32 for the others."""
    return FLOAT64 if backend == PYTHON else FLOAT32


# ---- check modes, in the order a reader wants them: local and recorded first ----
SNAPSHOT, STATE, HYBRID, SWEEP, TRAIN = "snapshot", "state", "hybrid", "sweep", "train"
MODES = (SNAPSHOT, STATE, HYBRID, SWEEP, TRAIN)

# ---- scopes: what a user's layer is asked to support beyond LeNet's own configuration ----
LENET_SCOPE = "lenet"  # LeNet's arguments, other shapes and nasty values, other integer values (square only)
TORCH_SCOPE = "torch"  # also torch's full generality: tuple sizes, bias=False, start_dim, dim=-1, ...
SCOPES = (LENET_SCOPE, TORCH_SCOPE)

# ---- the sweep's random inputs ----
# 0, the default of --seed: fixed so that a run with no option reproduces exactly (the report prints it); any
# integer works, and a teacher keeps a private one so a layer cannot learn the inputs of the public default.
DEFAULT_SEED = 0
MAX_SEED = 2**32 - 1  # a seed starts the CRC-32 of each case's key (harness/modes/sweep.py), a 32-bit value

# ---- dtypes ----
FLOAT32, FLOAT64 = "float32", "float64"
DTYPES = (FLOAT32, FLOAT64)

# ---- executors: where grading's and the experiments' independent tasks run ----
LOCAL, RAY = "local", "ray"  # a pool of local processes; Ray tasks (a local Ray, or a cluster)
EXECUTORS = (LOCAL, RAY)

# ---- tensor names, in the words of the reports, --json and Phase 0 ----
OUTPUT, LOSS = "output", "loss"
RUNNING_MEAN, RUNNING_VAR = "running_mean", "running_var"  # batchnorm's buffers after the forward
GRAD_INPUT, GRAD_WEIGHT, GRAD_BIAS = "grad_input", "grad_weight", "grad_bias"
WEIGHT, BIAS = "weight", "bias"  # a param's value after the train mode's steps
STATE_CHECKS = ("dtype", "input_unchanged", "dy_unchanged", "latest_input", "grads_overwritten", "deterministic")
FORWARD_TENSORS = (OUTPUT, LOSS, RUNNING_MEAN, RUNNING_VAR)  # known after forward; the rest after backward
TENSORS = (OUTPUT, LOSS, RUNNING_MEAN, RUNNING_VAR, GRAD_INPUT, GRAD_WEIGHT, GRAD_BIAS, WEIGHT, BIAS,
           *STATE_CHECKS)  # report order; the state mode's checks are its rows' "tensors"


def grad_name(param: str) -> str:
    """The tensor name of a param's gradient: weight -> grad_weight."""
    return f"grad_{param}"


# ---- the models Phase 0 records ----
LENET = "lenet"  # LeNet-5 as the README describes it: ReLU, max pooling, log-softmax + NLLLoss
LENET_VARIANTS = "lenet_variants"  # with the residual, batchnorm, dropout, sigmoid and softmax options
LENET5 = "lenet5"  # the 1998 LeNet-5: conv1 padded, tanh, average pooling, cross-entropy on the logits
MODELS = (LENET, LENET_VARIANTS, LENET5)
# what `check --model M` checks: M's layers, LeNet's with its variants' (layers LeNet lacks: bn1, res1, ...)
REFERENCE_MODELS = {LENET: (LENET, LENET_VARIANTS), LENET5: (LENET5,)}
MODEL_TITLES = {LENET: "LeNet", LENET_VARIANTS: "the variants model", LENET5: "the 1998 LeNet-5"}
NETWORK = "network"  # the origin of a row about the whole model's output (log-probabilities, loss), no one layer

# ---- data and runs, relative to the working directory ----
def _packaged(package: str, name: str) -> Path:
    """A golden file shipped inside the installed package (the repository's folder in an editable install)."""
    from importlib.resources import files

    return Path(str(files(package) / name))


# ---- default paths: the golden files ship with the package, so these work from any working directory ----
DEFAULT_WEIGHTS = _packaged("lenet_parity.weights", "lenet_seed42.json")
DEFAULT_LENET5_WEIGHTS = _packaged("lenet_parity.weights", "lenet5_seed42.json")
DEFAULT_PHASE0 = _packaged("lenet_parity.phase0", "_reference.json")
DEFAULT_TRAIN_BATCHES = _packaged("lenet_parity.phase0", "_train_batches.json")  # the train mode's MNIST batches
SHIPPED_GOLDEN_FILES = (DEFAULT_PHASE0, DEFAULT_TRAIN_BATCHES, DEFAULT_WEIGHTS, DEFAULT_LENET5_WEIGHTS)


def default_weights(model: str) -> Path:
    """The weights file a reference model (LENET, LENET5) is built from by default."""
    return DEFAULT_LENET5_WEIGHTS if model == LENET5 else DEFAULT_WEIGHTS


DATA_ROOT_ENV = "LENET_PARITY_DATA"
DATA_ROOT_SEARCH = f"${DATA_ROOT_ENV}, else ./data or the source checkout's data/ when present, else " \
                   f"$XDG_CACHE_HOME/lenet-parity (~/.cache/lenet-parity)"


def default_data_root() -> Path:
    """Where datasets live unless a command is told (DATA_ROOT_SEARCH, in that order). The checks need none:
    the train mode's batches ship inside the package."""
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    checkout = Path(__file__).resolve().parents[1]
    for candidate in (Path("data"), checkout / "data" if (checkout / "pyproject.toml").is_file() else None):
        if candidate is not None and candidate.is_dir():
            return candidate
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lenet-parity"


DEFAULT_DATA_ROOT = default_data_root()  # resolved once, when lenet-parity is imported
DEFAULT_RUNS = Path("runs")
