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
from lenet_parity.reference.config import LENET5_CONFIG, VARIANTS_CONFIG, LeNetConfig
from lenet_parity.reference.layers import LayerSpec, layer_plan, loss_spec
from lenet_parity.vocabulary import LAYER_BACKENDS, LENET, LENET5, LENET_VARIANTS, REFERENCE_MODELS


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


def _merged(lenet: list[LayerSpec], variants: list[LayerSpec]) -> list[tuple[str, LayerSpec]]:
    """LeNet's layers and the variants' own, in forward order: a variants-only layer (bn1, sigmoid3, softmax)
    comes where the variants put it, each of LeNet's where LeNet does (relu3 before fc2)."""
    base = {spec.name: spec for spec in lenet}
    pending, merged = [spec.name for spec in lenet], []
    for spec in variants:
        if spec.name in base:
            while pending:
                name = pending.pop(0)
                merged.append((LENET, base[name]))
                if name == spec.name:
                    break
        else:
            merged.append((LENET_VARIANTS, spec))
    return merged + [(LENET, base[name]) for name in pending]


def known_layers(configs: dict[str, LeNetConfig], model: str = LENET) -> dict[str, tuple[str, LayerSpec]]:
    """Every checkable layer of a reference model, name -> (Phase 0 model, spec), in forward order, the loss last.

    LENET: LeNet's layers (model LENET) with the variants' layers LeNet lacks (LENET_VARIANTS: batchnorm,
    residual, dropout, sigmoid, softmax); LENET5: the 1998 LeNet-5's.
    """
    if model == LENET5:
        layers = [(LENET5, spec) for spec in layer_plan(configs[LENET5])]
    else:
        layers = _merged(layer_plan(configs[LENET]), layer_plan(configs[LENET_VARIANTS]))
    loss = loss_spec(configs[model])
    return {spec.name: (m, spec) for m, spec in [*layers, *([(model, loss)] if loss else [])]}


DEFAULT_CONFIGS = {LENET: LeNetConfig(), LENET_VARIANTS: VARIANTS_CONFIG, LENET5: LENET5_CONFIG}


def model_configs(phase0: Any = None) -> dict[str, LeNetConfig]:
    """Each Phase 0 model's config: as Phase 0 recorded it, else the default."""
    configs = dict(DEFAULT_CONFIGS)
    if phase0 is not None:
        configs.update({model: LeNetConfig.from_dict(cap.config) for (model, _), cap in phase0.captures.items()})
    return configs


def layer_catalogue(phase0: Any = None, model: str | None = None) -> dict[str, tuple[str, LayerSpec]]:
    """known_layers() of a reference model (None: LeNet) for the configs Phase 0 recorded, or the defaults."""
    return known_layers(model_configs(phase0), model or LENET)


def reference_model_for(kind: str, model: str | None, phase0: Any = None) -> str:
    """The reference model a check of ``kind`` runs in: the one asked for; else LeNet, unless only another
    model has layers of that kind (tanh, avgpool, crossentropy: the 1998 LeNet-5)."""
    if model is not None:
        return model
    for candidate in REFERENCE_MODELS:
        if any(spec.kind == kind for _, spec in layer_catalogue(phase0, candidate).values()):
            return candidate
    return LENET
