"""The Python API: check a layer class or a whole file from a notebook, a script or a test, from any folder.

``check_layer(MyConv2d, "conv")`` and ``check_network("my_layers.py")`` run the user's code in the isolated
worker (a class defined in a notebook is sent by value) against the golden files shipped with the package, and
return the CheckRun: ``.passed``, ``.first_failure``, ``.results``, ``.to_dict()``, ``str()`` and a notebook view.
Bad input (an unknown kind or mode, a layer file that is missing or cannot be imported, a missing dataset or golden
file) raises ``lenet_parity.errors.UserInputError``: one line saying what and how to fix it, with no chained traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from lenet_parity.conventions.adapter_file import read_adapter
from lenet_parity.errors import UserInputError
from lenet_parity.golden_pins import pinned
from lenet_parity.harness.check_runner import ALL, run_checks
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.isolation import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, IsolatedFactory
from lenet_parity.harness.results import CheckRun
from lenet_parity.harness.trace import trace
from lenet_parity.harness.layer_factory import reference_model_for
from lenet_parity.vocabulary import (DEFAULT_DATA_ROOT, DEFAULT_PHASE0, DEFAULT_SEED, DEFAULT_TRAIN_BATCHES, DTYPES,
                                     FLOAT64, LENET, LENET_SCOPE, REFERENCE_MODELS, default_weights)


def check_layer(layer: Any, kind: str = ALL, *, dtype: str | None = None, modes: Iterable[str] | None = None,
                scope: str = LENET_SCOPE, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                data_root: str | Path = DEFAULT_DATA_ROOT, phase0: str | Path = DEFAULT_PHASE0,
                weights: str | Path | None = None, sandbox: bool = True, seed: int = DEFAULT_SEED,
                convention: str | None = None, adapter: str | Path | None = None, strict: bool = False,
                model: str | None = None) -> CheckRun:
    """Check ``layer`` (a class, ``"file.py:Class"``, ``"module:Class"``, or ``"file.py"`` for every layer class
    of a file) as the reference model's layers of ``kind`` (conv, pool, relu, dense, flatten, logsoftmax, loss,
    tanh, sigmoid, avgpool, softmax, crossentropy, ...; ``all`` with a whole file), in every mode (or ``modes``),
    both dtypes (or ``dtype``). ``model``: "lenet" or "lenet5" (the 1998 LeNet-5); None: LeNet, or the model that
    has layers of ``kind`` (tanh, avgpool, crossentropy: LeNet-5); ``weights``: None, the model's shipped file. The train mode's batches ship in
    the package; ``data_root`` is where MNIST would be read for batches beyond them; ``seed`` draws the sweep's
    random inputs. Code in other conventions (``W``/``dW`` attributes, CS231n functions, weights given to the
    constructor) is found by itself; ``convention`` forces one, ``adapter`` (a TOML file) declares what cannot be
    found; ``strict`` fails what only warns (a float64 result for float32 input, a write into dy).

    The layer runs in its own process, inside bubblewrap where the system allows it (``sandbox=False``: Python's
    guards only; ``run.sandbox`` says which). A layer that is wrong, crashes or hangs is a failed CheckRun, never
    an exception. Bad input raises
    ``UserInputError`` with a one-line message (what is wrong and how to fix it) and no chained traceback."""
    try:
        model = reference_model_for(kind, _model(model))
        weights = weights or default_weights(model)
        found_convention, declared = read_adapter(adapter) if adapter else (None, {})
        with (pinned(phase0, weights, DEFAULT_TRAIN_BATCHES),
              IsolatedFactory(_spec(layer), timeout=timeout, memory_limit=memory_limit, sandbox=sandbox,
                              convention=convention or found_convention, declared=declared) as factory):
            context = CheckContext(factory, phase0_path=Path(phase0), weights_path=Path(weights), model=model,
                                   data_root=Path(data_root), scope=scope, seed=seed, strict=strict)
            run = run_checks(kind, context, modes=modes, dtypes=DTYPES if dtype is None else (dtype,))
        factory.report_into(run)  # once its process has ended: all it printed
        return run
    except UserInputError as exc:
        raise _one_line(exc) from None


def check_network(layers_file: str | Path, *, dtype: str = FLOAT64, variants: bool = False,
                  timeout: float = DEFAULT_TIMEOUT, phase0: str | Path = DEFAULT_PHASE0,
                  weights: str | Path | None = None, sandbox: bool = True, model: str = LENET) -> CheckRun:
    """The whole network built from ``layers_file``'s classes (named like torch's layers) against torch's LeNet
    (``model="lenet5"``: the 1998 LeNet-5) on the Phase 0 batch: every tensor in forward then backward order, the
    first divergence first.

    Bad input raises ``UserInputError`` with a one-line message and no chained traceback, as check_layer does."""
    try:
        if not str(layers_file).endswith(".py") and not Path(layers_file).is_dir():
            raise UserInputError(f"layers_file {str(layers_file)!r}: check_network takes a whole file "
                                 f"(path/to/file.py), its classes named like torch's layers")
        model = _model(model)
        weights = weights or default_weights(model)
        with (pinned(phase0, weights), IsolatedFactory(str(layers_file), timeout=timeout, sandbox=sandbox) as factory):
            context = CheckContext(factory, phase0_path=Path(phase0), weights_path=Path(weights), dtype=dtype,
                                   model=model)
            run = trace(context, variants=variants)
        factory.report_into(run)  # once its process has ended: all it printed
        return run
    except UserInputError as exc:
        raise _one_line(exc) from None


def _model(model: str | None) -> str | None:
    if model is not None and model not in REFERENCE_MODELS:
        raise UserInputError(f"model {model!r}: choose one of {', '.join(REFERENCE_MODELS)}")
    return model


def _spec(layer: Any) -> Any:
    """A class, or its file as text (a Path works too); anything else is bad input, said in the API's words."""
    if isinstance(layer, os.PathLike):
        return os.fspath(layer)
    if isinstance(layer, (type, str)):
        return layer
    raise UserInputError(f"layer {layer!r}: expected a class (not an instance), \"file.py:Class\", "
                         f"\"module:Class\" or \"file.py\"")


def _one_line(exc: UserInputError) -> UserInputError:
    """The error as the API raises it: in the API's words (``layer``, not the CLI's ``--impl``), on one line, its
    traceback starting at the API call (the harness's frames below it say nothing to the caller)."""
    message = str(exc)
    if message.startswith("--impl"):
        message = "layer" + message[len("--impl"):]
    return type(exc)(message)
