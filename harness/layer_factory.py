"""Build a custom layer for a LayerSpec from one of our backends (numpy, python), and the catalogue of layers.

A layer is built like its torch.nn twin, ``cls(**spec.kwargs)``. A user's ``--impl`` is built in a separate
process instead (harness/isolation.py); a layer that cannot be *built* is that layer's failure, reported by
the checks (see harness/guard.py).
"""

from __future__ import annotations

from typing import Any

from lenet_parity.custom_layers.backends import layer_class
from lenet_parity.custom_layers.protocol import accepts
from lenet_parity.errors import UserInputError
from lenet_parity.reference.config import VARIANTS_CONFIG, LeNetConfig
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec, layer_plan
from lenet_parity.vocabulary import LAYER_BACKENDS, LENET, LENET_VARIANTS


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
