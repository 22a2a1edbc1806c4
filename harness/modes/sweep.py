"""The sweep mode: each layer alone against torch.nn.functional on seeded configurations beyond LeNet's shapes.

Each layer runs on its own constructor arguments with other input shapes (N=1, non-square, more channels);
the first layer of each class also runs the class's extra configurations (stride, padding, non-square
kernels, overlapping pools, no bias, other dims) and LeNet's own shapes at the README's batch sizes (64, 32, 8).
Inputs include the nasty cases: tied maxima in pool windows, exact zeros at ReLU, logits of magnitude 1e4.
Upstream gradients are random, never all ones. Every random value comes from the run's seed (``--seed``)
combined with the case's key, so a run reproduces and another seed draws other inputs.
A configuration a layer's constructor cannot take (a user's --impl without ``stride``) is skipped, with a note.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lenet_parity.errors import UserInputError
from lenet_parity.harness import guard
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_case import Case, noise_floors, run_case
from lenet_parity.harness.layer_factory import layer_catalogue
from lenet_parity.harness.results import CheckResult
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.vocabulary import (DEFAULT_SEED, DTYPES, FLOAT32, FLOAT64, LENET_SCOPE, MAX_SEED, SWEEP,
                                     TORCH_SCOPE)


@dataclass(frozen=True)
class Config:
    shape: tuple  # the input's shape
    # normal, ties (values k/2: tied maxima), zeros (30% exact zeros), huge (scale 1e4), saturate (scale 40:
    # sigmoid and tanh at +-40 and beyond, flat to 1e-17; a naive sigmoid's exp(-x) overflows float32 past 88)
    inputs: str = "normal"
    kwargs: dict | None = None  # None: the layer's own constructor arguments
    scope: str = LENET_SCOPE  # lenet: what a LeNet layer must do; torch: torch's full generality
    dtypes: tuple[str, ...] = DTYPES  # the dtypes it runs in (the batch-size configurations: float64 only)

    def label(self) -> str:
        """What this case feeds the layer: ``x (1, 3, 7, 9) ties``."""
        return f"x {self.shape}" + ("" if self.inputs == "normal" else f" {self.inputs}")

    def layer_label(self, cls: str) -> str:
        """The name its rows are reported under when it builds the layer with other arguments:
        ``Conv2d(3, 4, k=3, s=2)``, ``MaxPool2d(k=3, s=2)`` (not the LeNet layer whose class it checks)."""
        kwargs = self.kwargs or {}
        sizes = [str(kwargs[k]) for k in _POSITIONAL if k in kwargs]
        named = [f"{_SHORT.get(k, k)}={v}" for k, v in kwargs.items() if k not in _POSITIONAL]
        return f"{cls}({', '.join(sizes + named)})"


_POSITIONAL = ("in_channels", "out_channels", "in_features", "out_features", "num_features", "channels")
_SHORT = {"kernel_size": "k", "stride": "s", "padding": "p"}


def _pair(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def own_configs(spec: LayerSpec) -> list[Config]:
    """Other input shapes for the layer as it is built in LeNet."""
    kw = spec.kwargs
    if spec.cls == "Conv2d":
        (kh, kw_), c = _pair(kw["kernel_size"]), kw["in_channels"]
        return [Config((1, c, kh + 3, kw_ + 1)), Config((3, c, kh + 2, kw_ + 6))]
    if spec.cls in ("MaxPool2d", "AvgPool2d"):  # the first shape: floor mode drops the last row and column
        kh, kw_ = _pair(kw["kernel_size"])
        ties = "ties" if spec.cls == "MaxPool2d" else "normal"  # tied maxima only matter to max-pool
        return [Config((1, 3, 3 * kh + 1, 4 * kw_ + 1)), Config((2, 4, 3 * kh, 2 * kw_), ties)]
    if spec.cls == "Linear":
        return [Config((1, kw["in_features"])), Config((5, kw["in_features"]))]
    if spec.cls == "BatchNorm2d":
        return [Config((2, kw["num_features"], 3, 5)), Config((1, kw["num_features"], 4, 3))]
    if spec.cls == "BatchNorm1d":
        return [Config((3, kw["num_features"])), Config((2, kw["num_features"]), "huge")]
    if spec.cls == "Residual":
        return [Config((1, kw["channels"], 5, 7)), Config((2, kw["channels"], 4, 4))]
    return {
        "ReLU": [Config((1, 3, 5, 7), "zeros"), Config((4, 10), "zeros")],
        "Tanh": [Config((1, 3, 5, 7)), Config((4, 10), "saturate")],
        "Sigmoid": [Config((1, 3, 5, 7)), Config((4, 10), "saturate")],
        "Flatten": [Config((1, 3, 4, 5)), Config((2, 16, 4, 4))],
        "LogSoftmax": [Config((1, 10)), Config((3, 10), "huge"), Config((4, 10), "ties")],
        "Softmax": [Config((1, 10)), Config((3, 10), "huge"), Config((4, 10), "ties")],
        "NLLLoss": [Config((1, 10)), Config((6, 10), "huge"), Config((5, 3))],
        "CrossEntropyLoss": [Config((1, 10)), Config((6, 10), "huge"), Config((5, 3))],  # huge: logits of 1e4
        "Dropout": [Config((1, 3, 4, 5)), Config((2, 7))],
    }.get(spec.cls, [])


# The README's batch sizes: training's 64 (reference/recipe.py), the train mode's 32, and its 8 for pure-Python
# layers. Phase 0 and the shapes above use 1 to 6, so a layer wrong only for a batch of 64 passed every check.
BATCH_SIZES = (64, 32, 8)
# Run once per class, at the layer's own LeNet shape, in float64 only: in float32 a batch of 64 makes conv1's
# grad_weight a sum of 64 * 24 * 24 = 36,864 products, 16x the Phase 0 sums the float32 tolerances are set
# for (measured: our correct NumPy conv errs 2.4e-3 there, atol 1e-4); in float64 it errs 6e-12. One dtype
# also halves their cost: `check all --mode sweep` 2.8 -> 3.6 s with the numpy backend, 3.3 -> 7.3 s in Python.
BATCH_DTYPES = (FLOAT64,)
# the class's nasty values, at full size too
_BATCH_INPUTS = {"ReLU": "zeros", "MaxPool2d": "ties", "Sigmoid": "saturate", "Tanh": "saturate"}


def batch_configs(spec: LayerSpec, shape: tuple) -> list[Config]:
    """The layer as LeNet builds it, on its LeNet input ``shape`` (without the batch), at each batch size."""
    return [Config((n, *shape), _BATCH_INPUTS.get(spec.cls, "normal"), dtypes=BATCH_DTYPES) for n in BATCH_SIZES]


# Other constructor arguments, run once per class. LENET_SCOPE: other integer values of the arguments LeNet's
# layers name (kernel 3, stride 2, padding 1, overlapping pools), square only; TORCH_SCOPE adds torch's
# generality: tuple sizes, bias=False, start_dim/end_dim, dim=-1, other eps and momentum, (N, C, L) inputs.
EXTRA_CONFIGS: dict[str, list[Config]] = {
    "Conv2d": [
        Config((2, 3, 9, 8), kwargs=dict(in_channels=3, out_channels=4, kernel_size=3, stride=2)),
        Config((1, 2, 5, 6), kwargs=dict(in_channels=2, out_channels=3, kernel_size=3, padding=1)),
        Config((2, 2, 7, 5), kwargs=dict(in_channels=2, out_channels=5, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2)),
               scope=TORCH_SCOPE),
        Config((2, 4, 3, 5), kwargs=dict(in_channels=4, out_channels=2, kernel_size=1, bias=False), scope=TORCH_SCOPE),
    ],
    "MaxPool2d": [  # overlapping windows share tied maxima: the gradient goes to the first, and sums
        Config((2, 3, 9, 7), "ties", kwargs=dict(kernel_size=3, stride=2)),
        Config((1, 2, 5, 6), "ties", kwargs=dict(kernel_size=2, stride=1)),
        Config((2, 2, 6, 9), kwargs=dict(kernel_size=(2, 3), stride=(1, 2)), scope=TORCH_SCOPE),
        Config((1, 2, 7, 8), kwargs=dict(kernel_size=3)),  # floor mode drops the last row and column
    ],
    "AvgPool2d": [  # overlapping windows: an element's gradient is the sum of its windows' shares
        Config((2, 3, 9, 7), kwargs=dict(kernel_size=3, stride=2)),
        Config((1, 2, 5, 6), kwargs=dict(kernel_size=2, stride=1)),
        Config((2, 2, 6, 9), kwargs=dict(kernel_size=(2, 3), stride=(1, 2)), scope=TORCH_SCOPE),
    ],
    "Linear": [
        Config((2, 7), kwargs=dict(in_features=7, out_features=3)),
        Config((3, 5), kwargs=dict(in_features=5, out_features=4, bias=False), scope=TORCH_SCOPE),
    ],
    "Flatten": [Config((2, 3, 4, 5), kwargs=dict(start_dim=2), scope=TORCH_SCOPE),
                Config((2, 3, 4, 5), kwargs=dict(start_dim=1, end_dim=2), scope=TORCH_SCOPE)],
    "LogSoftmax": [Config((3, 7), "huge", kwargs=dict(dim=-1), scope=TORCH_SCOPE),
                   Config((2, 6), "ties", kwargs=dict(dim=1))],
    "Softmax": [Config((3, 7), "huge", kwargs=dict(dim=-1), scope=TORCH_SCOPE),
                Config((2, 6), "ties", kwargs=dict(dim=1))],
    "BatchNorm2d": [Config((2, 3, 4, 5), kwargs=dict(num_features=3, eps=1e-3, momentum=0.3), scope=TORCH_SCOPE)],
    "BatchNorm1d": [Config((4, 5), kwargs=dict(num_features=5, eps=1e-3, momentum=0.3), scope=TORCH_SCOPE),
                    Config((2, 5, 3), kwargs=dict(num_features=5), scope=TORCH_SCOPE)],  # (N, C, L) input
    "Dropout": [Config((3, 6), kwargs=dict(p=0.2))],
    "Residual": [Config((2, 2, 6, 5), kwargs=dict(channels=2, kernel_size=5)),
                 Config((1, 3, 3, 4), kwargs=dict(channels=3, kernel_size=1))],
}


def _params(spec: LayerSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random params of torch's shapes, scaled by 1/sqrt(fan_in) so outputs stay near unit size."""
    kw = spec.kwargs
    if spec.cls in ("Conv2d", "Residual"):
        o, c = (kw["out_channels"], kw["in_channels"]) if spec.cls == "Conv2d" else (kw["channels"],) * 2
        kh, kw_ = _pair(kw.get("kernel_size", 3))
        shapes = {"weight": (o, c, kh, kw_), "bias": (o,)}
        fan_in = c * kh * kw_
    elif spec.cls == "Linear":
        shapes, fan_in = {"weight": (kw["out_features"], kw["in_features"]), "bias": (kw["out_features"],)}, kw["in_features"]
    elif spec.cls.startswith("BatchNorm"):
        c = kw["num_features"]
        return {"weight": 1 + 0.3 * rng.standard_normal(c), "bias": 0.3 * rng.standard_normal(c),
                "running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2.0, c)}
    else:
        return {}
    if not kw.get("bias", True):
        del shapes["bias"]
    return {k: rng.standard_normal(s) / np.sqrt(fan_in) for k, s in shapes.items()}


def _inputs(config: Config, rng: np.random.Generator) -> np.ndarray:
    if config.inputs == "ties":
        return rng.integers(-2, 3, config.shape) / 2  # few distinct values: many windows hold a tied maximum
    x = rng.standard_normal(config.shape)
    if config.inputs == "zeros":
        x[rng.random(config.shape) < 0.3] = 0.0  # torch's ReLU passes no gradient at exactly 0
    elif config.inputs == "huge":
        x *= 1e4  # exp() overflows unless the maximum is subtracted first
    elif config.inputs == "saturate":
        x *= 40  # a third of |x| >= 40; exp(-x) overflows float32 for x < -88 (float64 only below -709)
    return x


def check_seed(seed: Any) -> int:
    """The seed as given, or bad input: an integer from 0 to MAX_SEED (it starts a CRC-32)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed {seed!r}: give an integer from 0 to {MAX_SEED}")
    return int(seed)


def case_rng(seed: int, seed_key: str) -> np.random.Generator:
    """The case's own stream: the CRC-32 of its key started from the run's seed. Seed 0 is the plain CRC-32,
    the inputs of releases before --seed; for one key, each seed from 0 to MAX_SEED gives another start."""
    return np.random.default_rng(zlib.crc32(seed_key.encode(), check_seed(seed)))


@dataclass
class SweepCase(Case):
    """A sweep case remembers what drew it, so a failure found with one seed is replayed with that seed."""
    seed: int = DEFAULT_SEED
    seed_key: str = ""


def sweep_case(spec: LayerSpec, config: Config, dtype: str, seed_key: str,
               seed: int = DEFAULT_SEED) -> SweepCase:
    """Seeded inputs and params (the same values in both dtypes), and torch's answer for them: computed once per
    process and shared by every submission it grades (a copy each)."""
    from lenet_parity.harness.torch_cache import shared  # torch is imported only when a sweep runs

    key = (spec, config, dtype, seed_key, seed)  # all it is drawn and computed from
    return shared("sweep", key, lambda: _sweep_case(*key))


def _sweep_case(spec: LayerSpec, config: Config, dtype: str, seed_key: str, seed: int) -> SweepCase:
    from lenet_parity.harness.modes import sweep_torch

    rng = case_rng(seed, seed_key)
    x = _inputs(config, rng).astype(dtype)
    params = {k: v.astype(dtype) for k, v in _params(spec, rng).items()}
    mask = targets = None
    if spec.cls == "Dropout":
        p = spec.kwargs.get("p", 0.5)
        mask = (rng.random(config.shape) >= p).astype(dtype) / np.asarray(1 - p, dtype)  # torch divides by 1 - p
    if spec.cls in ("NLLLoss", "CrossEntropyLoss"):
        targets = rng.integers(0, config.shape[1], config.shape[0])
    if spec.cls == "NLLLoss":
        x = sweep_torch.log_softmax(x, dtype)  # it reads log-probabilities; CrossEntropyLoss reads the logits
    expected, dy = sweep_torch.reference(spec, x, params, dtype, rng, mask=mask, targets=targets)
    twin = {FLOAT32: FLOAT64, FLOAT64: FLOAT32}[dtype]  # the same values in the other dtype: the float32 noise floor
    other, _ = sweep_torch.reference(spec, x.astype(twin), {k: v.astype(twin) for k, v in params.items()}, twin, rng,
                                     mask=None if mask is None else mask.astype(twin), targets=targets,
                                     dy=None if dy is None else dy.astype(twin))
    return SweepCase(x=x, dy=dy, params=params, mask=mask, targets=targets, expected=expected, label=config.label(),
                     floors=noise_floors(expected, other), seed=seed, seed_key=seed_key)


def run_sweep(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    """Every named layer on its sweep configurations, case by case (forward rows, then backward rows)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small run ~10x slower with several threads on a busy machine
    try:
        return _sweep(layer_names, context)
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Planned:
    """One sweep case to run: which layer it checks, with which arguments and inputs, reported under which name."""
    origin: str  # the LeNet layer whose class it checks (conv1, ...)
    spec: LayerSpec  # the layer it builds: LeNet's own arguments, or the configuration's
    config: Config
    label: str  # the name its rows are reported under: the origin, or Conv2d(3, 4, k=3, s=2)
    seed_key: str  # with the seed, draws its inputs and params (the same values in both dtypes)
    new_keys: tuple[str, ...] = ()  # constructor arguments LeNet's own layer does not pass (may be declined)
    seed: int = DEFAULT_SEED  # the run's --seed

    @property
    def own(self) -> bool:
        """LeNet's own constructor arguments: never "unsupported"."""
        return self.config.kwargs is None

    def case(self, dtype: str) -> SweepCase:
        return sweep_case(self.spec, self.config, dtype, self.seed_key, self.seed)


def sweep_plan(layer_names: list[str], phase0: Any, scope: str, seed: int = DEFAULT_SEED,
               model: str | None = None) -> list[Planned]:
    """The sweep's cases for these layers, in order: each layer's own shapes, then (once per class) its LeNet
    shape at the README's batch sizes and the class's other configurations that ``scope`` asks for. Each case
    runs in the dtypes of its ``config.dtypes``."""
    from lenet_parity.harness.modes.sweep_torch import lenet_shapes

    seed = check_seed(seed)
    catalogue = layer_catalogue(phase0, model)
    shapes = lenet_shapes(catalogue, phase0)
    seen_classes: set[str] = set()
    plan = []
    for name in layer_names:
        spec = catalogue[name][1]
        configs = own_configs(spec)
        if spec.cls not in seen_classes:
            configs += batch_configs(spec, shapes[name])
            configs += [c for c in EXTRA_CONFIGS.get(spec.cls, []) if scope == TORCH_SCOPE or c.scope == LENET_SCOPE]
            seen_classes.add(spec.cls)
        for config in configs:
            if config.kwargs is None:
                plan.append(Planned(name, spec, config, name, f"{name}/{config.label()}", seed=seed))
                continue
            long_label = f"{spec.cls}({', '.join(f'{k}={v}' for k, v in config.kwargs.items())})"
            plan.append(Planned(name, replace(spec, kwargs=config.kwargs), config, config.layer_label(spec.cls),
                                f"{name}/{long_label}, {config.label()}",  # the seeds of earlier releases
                                tuple(k for k in config.kwargs if k not in spec.kwargs), seed))
    return plan


def seed_note(seed: int) -> str:
    """The line a run prints, so it can be reproduced (and a teacher's private seed told from the default)."""
    return (f"sweep mode: seed {seed} drew the random inputs (--seed to change it); LeNet's shapes at batch sizes "
            f"{', '.join(map(str, BATCH_SIZES))} run in {', '.join(BATCH_DTYPES)} only")


def _sweep(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    context.note(seed_note(context.seed))
    results: list[CheckResult] = []
    for planned in sweep_plan(layer_names, context.phase0, context.scope, context.seed, context.model):
        if context.dtype in planned.config.dtypes:
            results += _planned_rows(planned, context)
    return results


def _planned_rows(planned: Planned, context: CheckContext) -> list[CheckResult]:
    """One configuration's rows: forward then backward, or one row saying the layer declines it."""
    if planned.own:
        forward, backward = run_case(planned.spec, planned.case(context.dtype), context, layer_name=planned.label,
                                     mode=SWEEP)
        return forward + backward
    why = declined(planned.spec, context.make_layer, list(planned.new_keys))
    if why is not None:
        return [CheckResult(planned.label, "constructor", SWEEP, context.dtype, case=planned.config.label(),
                            origin=planned.origin).decline(why, context.scope)]
    forward, backward = run_case(planned.spec, planned.case(context.dtype), context, layer_name=planned.label,
                                 mode=SWEEP)
    for row in forward + backward:
        row.origin = planned.origin
    return forward + backward


def declined(spec: LayerSpec, make_layer: Any, new_keys: list[str]) -> str | None:
    """Why the layer declines these constructor arguments (it does not name one of ``new_keys``, those LeNet's
    own layer does not pass, or its constructor raises TypeError, ValueError or NotImplementedError), or None."""
    accepts = getattr(make_layer, "accepts", None)
    if accepts is not None and not accepts(spec):
        return f"its constructor does not take {' or '.join(new_keys) or 'these arguments'}"
    try:
        guard.build(make_layer, spec)
    except guard.LayerError as exc:
        if isinstance(exc.__cause__, (TypeError, ValueError, NotImplementedError)):
            return str(exc)
    return None
