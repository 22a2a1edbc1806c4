"""The cases a layer type is checked on alone, as language-neutral records: inputs and params in, outputs back.

They are the snapshot mode's (the Phase 0 batch) and the sweep mode's (other shapes, nasty values, other
arguments, LeNet's shapes at the README's batch sizes), built by the same code, so the same export (and seed)
gives the same cases and expected values every time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from lenet_parity.atomic import safe_name
from lenet_parity.harness.check_runner import select_layers
from lenet_parity.harness.layer_case import TRAINING_KINDS, Case
from lenet_parity.harness.layer_factory import layer_catalogue, reference_model_for
from lenet_parity.harness.modes.snapshot import snapshot_case
from lenet_parity.harness.modes.sweep import sweep_plan
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.vocabulary import DEFAULT_SEED, GRAD_INPUT, LENET_VARIANTS, LOSS, OUTPUT, SNAPSHOT, SWEEP, TORCH_SCOPE

FORMAT_VERSION = 1
ANSWER_NAMES = {OUTPUT: "y", LOSS: "y", GRAD_INPUT: "dx"}  # the rest keep their names: grad_weight, running_mean


def answer_name(tensor: str) -> str:
    """The file name (without .npy) a program writes a tensor's answer to."""
    return ANSWER_NAMES.get(tensor, tensor)


@dataclass
class PortableCase:
    id: str  # a safe file name, unique in the export
    kind: str  # the layer type: conv, pool, ...
    mode: str  # snapshot or sweep: the check mode the case comes from
    layer: str  # the name its rows are reported under: conv1, or Conv2d(3, 4, k=3, s=2)
    origin: str  # the LeNet layer whose class it checks
    spec: LayerSpec
    case: Case
    dtype: str
    beyond_lenet: bool  # outside --scope lenet (torch's generality) or a layer LeNet does not have

    def inputs(self) -> dict[str, np.ndarray]:
        """File name -> array: x, the params by torch's names, mask (dropout), dy, target (the loss)."""
        c, dtype = self.case, self.dtype
        arrays = {"x": c.x, **c.params}
        if c.mask is not None:
            arrays["mask"] = c.mask
        if c.dy is not None:
            arrays["dy"] = c.dy
        found = {k: np.ascontiguousarray(np.asarray(v, dtype=dtype)) for k, v in arrays.items()}
        if c.targets is not None:
            found["target"] = np.ascontiguousarray(np.asarray(c.targets, dtype=np.int64))
        return found

    def outputs(self) -> list[str]:
        return [answer_name(t) for t in self.case.expected]

    def inputs_sha256(self) -> str:
        """One digest of every input's name, dtype, shape and bytes: the export's and the harness's must agree."""
        digest = hashlib.sha256()
        for name, arr in sorted(self.inputs().items()):
            digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
            digest.update(arr.tobytes())
        return digest.hexdigest()

    def record(self) -> dict[str, Any]:
        """The manifest's entry (no expected values: the harness keeps those)."""
        return {"id": self.id, "type": self.kind, "layer": self.spec.cls, "name": self.layer, "origin": self.origin,
                "kwargs": _plain(self.spec.kwargs), "dtype": self.dtype, "mode": self.mode,
                "case": self.case.label or "the Phase 0 batch", "training": self.spec.kind in TRAINING_KINDS,
                "dir": f"cases/{self.id}", "inputs": sorted(self.inputs()), "outputs": self.outputs(),
                "beyond_lenet": self.beyond_lenet, "inputs_sha256": self.inputs_sha256()}


def _plain(value: Any) -> Any:
    """JSON's types: tuples become lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def plan_cases(kinds: Iterable[str], scope: str, dtypes: Iterable[str], phase0: Any,
               seed: int = DEFAULT_SEED, model: str | None = None) -> list[PortableCase]:
    """Every layer-alone case of these layer types: per type and dtype, the snapshot's, then the sweep's (its
    random inputs drawn from ``seed``, as ``check --seed`` draws them), in the reference ``model`` (None: LeNet,
    or the model that has the type, as ``check`` picks it)."""
    cases: list[PortableCase] = []
    seen: set[str] = set()

    def add(kind, mode, layer, origin, spec, case, dtype, beyond):
        base = safe_name(f"{kind}-{mode}-{layer}-{case.label or 'phase0'}-{dtype}")
        unique, n = base, 2
        while unique in seen:
            unique, n = f"{base}-{n}", n + 1
        seen.add(unique)
        cases.append(PortableCase(unique, kind, mode, layer, origin, spec, case, dtype, beyond))

    for kind in kinds:
        kind_model = reference_model_for(kind, model, phase0)
        catalogue = layer_catalogue(phase0, kind_model)
        names = select_layers(kind, None, catalogue)
        for dtype in dtypes:
            for name in names:
                spec, case = snapshot_case(phase0, name, dtype, kind_model)
                add(kind, SNAPSHOT, name, name, spec, case, dtype, catalogue[name][0] == LENET_VARIANTS)
            for planned in [p for p in sweep_plan(names, phase0, scope, seed, kind_model) if dtype in p.config.dtypes]:
                variant = catalogue[planned.origin][0] == LENET_VARIANTS
                add(kind, SWEEP, planned.label, planned.origin, planned.spec, planned.case(dtype), dtype,
                    variant or planned.config.scope == TORCH_SCOPE)
    return cases
