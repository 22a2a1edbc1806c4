"""Build a custom layer for a LayerSpec: from one of our backends (numpy, python) or a user's ``--impl``.

A layer is built like its torch.nn twin, ``cls(**spec.kwargs)``. ``--impl`` takes ``MODULE:CLASS`` or
``path/to/file.py:CLASS``; an impl that cannot be imported is bad input (exit 2), while a layer that
cannot be *built* is that layer's failure, reported by the checks (see harness/guard.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from lenet_parity.custom_layers.backends import layer_class
from lenet_parity.errors import UserInputError
from lenet_parity.reference.config import VARIANTS_CONFIG, LeNetConfig
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec, layer_plan
from lenet_parity.vocabulary import LAYER_BACKENDS, LENET, LENET_VARIANTS


def accepts(cls: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``cls(**kwargs)`` fits the constructor's signature (True when it cannot be inspected)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(**kwargs)
    except TypeError:
        return False
    return True


class LayerFactory:
    """``factory(spec)`` returns a fresh layer; ``label`` names where layers come from in reports."""

    label = "layers"

    def layer_class(self, spec: LayerSpec) -> Any:
        raise NotImplementedError

    def accepts(self, spec: LayerSpec) -> bool:
        """Whether the class can be built with this spec's kwargs (sweeps skip configurations it cannot take)."""
        return accepts(self.layer_class(spec), spec.kwargs)

    def __call__(self, spec: LayerSpec) -> Any:
        return self.layer_class(spec)(**spec.kwargs)


class BackendFactory(LayerFactory):
    """Our own layers: the class of the spec's torch name in ``lenet_parity.custom_layers.<backend>``."""

    def __init__(self, backend: str):
        if backend not in LAYER_BACKENDS:
            raise UserInputError(f"unknown backend {backend!r}; choose one of {', '.join(LAYER_BACKENDS)}")
        self.backend = self.label = backend

    def layer_class(self, spec: LayerSpec) -> Any:
        return layer_class(self.backend, spec.cls)


class ImplFactory(LayerFactory):
    """A user's own class, used for every layer being checked: ``--impl MODULE:CLASS`` or ``file.py:CLASS``."""

    def __init__(self, impl: str):
        self.impl = self.label = impl
        self.cls = load_impl(impl)

    def layer_class(self, spec: LayerSpec) -> Any:
        return self.cls


def load_impl(impl: str) -> Any:
    """The class named by ``MODULE:CLASS`` or ``path/to/file.py:CLASS``; any problem is a UserInputError."""
    target, sep, class_name = impl.rpartition(":")
    if not sep or not target or not class_name:
        raise UserInputError(f"--impl {impl!r}: expected MODULE:CLASS or path/to/file.py:CLASS, "
                             f"e.g. examples/my_conv.py:MyConv2d")
    try:
        module = _import_file(target) if target.endswith(".py") or "/" in target or "\\" in target \
            else _import_module(target)
    except UserInputError:
        raise
    except BaseException as exc:  # the user's module ran and failed: SyntaxError, ImportError, SystemExit, ...
        if isinstance(exc, KeyboardInterrupt):
            raise
        first_line = (str(exc).splitlines() or [""])[0]
        raise UserInputError(f"--impl {impl}: importing {target} raised {type(exc).__name__}: {first_line}; "
                             f"fix the module or run it with python to see the traceback") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        classes = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__)
        raise UserInputError(f"--impl {impl}: {target} has no {class_name!r}; its classes: {', '.join(classes) or 'none'}")
    if not callable(cls):
        raise UserInputError(f"--impl {impl}: {class_name} is a {type(cls).__name__}, not a class")
    return cls


def _import_file(target: str) -> Any:
    path = Path(target)
    if not path.is_file():
        raise UserInputError(f"--impl: {target} not found (give path/to/file.py:CLASS, relative to the current directory)")
    name = f"_lenet_parity_impl_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserInputError(f"--impl: cannot import {target} (is it a Python file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def _import_module(target: str) -> Any:
    if str(Path.cwd()) not in sys.path:  # like `python -m`: modules in the current directory are importable
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise UserInputError(f"--impl: no module named {target!r} (give MODULE:CLASS importable from the "
                                 f"current directory, or path/to/file.py:CLASS)") from None
        raise


def known_layers(lenet: LeNetConfig, variants: LeNetConfig) -> dict[str, tuple[str, LayerSpec]]:
    """Every checkable layer, name -> (model, spec), in forward order, the loss last.

    The variants model (batchnorm, residual, dropout) is a superset of LeNet, so its plan gives the order;
    layers LeNet has come from LeNet's plan (model LENET), the others from the variants' (LENET_VARIANTS).
    """
    base = {spec.name: spec for spec in layer_plan(lenet)}
    layers = {}
    for spec in layer_plan(variants):
        layers[spec.name] = (LENET, base[spec.name]) if spec.name in base else (LENET_VARIANTS, spec)
    for name, spec in base.items():  # in case the variants plan lacks one of LeNet's layers
        layers.setdefault(name, (LENET, spec))
    layers[LOSS_SPEC.name] = (LENET, LOSS_SPEC)
    return layers


def layer_catalogue(phase0: Any = None) -> dict[str, tuple[str, LayerSpec]]:
    """known_layers() for the models Phase 0 recorded, or for the default LeNet and variants without it."""
    if phase0 is not None:
        configs = {model: LeNetConfig.from_dict(cap.config) for (model, _), cap in phase0.captures.items()}
        lenet = configs.get(LENET, LeNetConfig())
        return known_layers(lenet, configs.get(LENET_VARIANTS, lenet))
    return known_layers(LeNetConfig(), VARIANTS_CONFIG)
