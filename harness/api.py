"""The Python API: check a layer class or a whole file from a notebook, a script or a test, from any folder.

``check_layer(MyConv2d, "conv")`` and ``check_network("my_layers.py")`` run the user's code in the isolated
worker (a class defined in a notebook is sent by value) against the golden files shipped with the package, and
return the CheckRun: ``.passed``, ``.first_failure``, ``.results``, ``.to_dict()``, ``str()`` and a notebook view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from lenet_parity.harness.check_runner import ALL, run_checks
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.isolation import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, IsolatedFactory
from lenet_parity.harness.results import CheckRun
from lenet_parity.harness.trace import trace
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT, DEFAULT_PHASE0, DEFAULT_WEIGHTS, DTYPES, FLOAT64, LENET_SCOPE


def check_layer(layer: Any, kind: str = ALL, *, dtype: str | None = None, modes: Iterable[str] | None = None,
                scope: str = LENET_SCOPE, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                data_root: str | Path = DEFAULT_DATA_ROOT, phase0: str | Path = DEFAULT_PHASE0,
                weights: str | Path = DEFAULT_WEIGHTS) -> CheckRun:
    """Check ``layer`` (a class, ``"file.py:Class"``, ``"module:Class"``, or ``"file.py"`` for every layer class
    of a file) as LeNet's layers of ``kind`` (conv, pool, relu, dense, flatten, logsoftmax, loss, ...; ``all``
    with a whole file), in every mode (or ``modes``), both dtypes (or ``dtype``). The train mode needs MNIST
    under ``data_root``; without it, pass ``modes=["snapshot", "state", "hybrid", "sweep"]``."""
    with IsolatedFactory(layer, timeout=timeout, memory_limit=memory_limit) as factory:
        context = CheckContext(factory, phase0_path=Path(phase0), weights_path=Path(weights),
                               data_root=Path(data_root), scope=scope)
        return run_checks(kind, context, modes=modes, dtypes=DTYPES if dtype is None else (dtype,))


def check_network(layers_file: str | Path, *, dtype: str = FLOAT64, variants: bool = False,
                  timeout: float = DEFAULT_TIMEOUT, phase0: str | Path = DEFAULT_PHASE0,
                  weights: str | Path = DEFAULT_WEIGHTS) -> CheckRun:
    """The whole network built from ``layers_file``'s classes (named like torch's layers) against torch's LeNet on
    the Phase 0 batch: every tensor in forward then backward order, the first divergence first."""
    with IsolatedFactory(str(layers_file), timeout=timeout) as factory:
        context = CheckContext(factory, phase0_path=Path(phase0), weights_path=Path(weights), dtype=dtype)
        return trace(context, variants=variants)
