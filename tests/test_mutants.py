"""The bug zoo: every mutant is caught by the harness and localised to its layer and tensor, the correct layers
pass the same checks, and the verdict rules (a crash is no catch, a failure elsewhere is a false alarm) hold.

Each mutant is planted in its reference model (LeNet with its variants' layers, or the 1998 LeNet-5), and the
controls run for each model. The module fixture runs ``lenet-parity mutants --quick`` once (float64, each mutant in
the modes that must catch it); the full run (both dtypes, every mode of every mutant) is the slow test at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from lenet_parity.custom_layers.numpy.conv import Conv2d
from lenet_parity.harness.cli import main
from lenet_parity.harness.compare import compare
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue
from lenet_parity.harness.modes.sweep import EXTRA_CONFIGS, own_configs, sweep_case
from lenet_parity.harness.ansi import unstyle
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.mutants.catalogue import CATALOGUE, MODES, Mutant
from lenet_parity.harness.mutants.conv_pool import ConvBiasGradSign
from lenet_parity.harness.mutants.runner import model_context, run_zoo, table
from lenet_parity.harness.mutants.verdict import judge
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.vocabulary import DEFAULT_LENET5_WEIGHTS, LENET, LENET5, REFERENCE_MODELS

from conftest import PHASE0, WEIGHTS

NAMES = [m.name for m in CATALOGUE]
PATHS = ["--phase0", str(PHASE0), "--weights", str(WEIGHTS)]


def mutants(*args: str):
    return CliRunner().invoke(main, ["mutants", *PATHS, *args])


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


@pytest.fixture(scope="module")
def quick_zoo(tmp_path_factory, mnist_root):
    """``lenet-parity mutants --quick --json``: (its exit code, its terminal output, its JSON)."""
    path = tmp_path_factory.mktemp("zoo") / "zoo.json"
    result = mutants("--quick", "--data-root", str(mnist_root), "--json", str(path))
    return result.exit_code, result.output, json.loads(path.read_text())


def entry(doc: dict, name: str) -> dict:
    return next(m for m in doc["mutants"] if m["name"] == name)


# ---- the catalogue ----------------------------------------------------------------------------------------------------

def test_the_catalogue_has_at_least_12_distinct_mutants_each_of_its_layers_class(phase0):
    assert len(CATALOGUE) >= 12 and len(set(NAMES)) == len(NAMES)
    assert len({m.factory for m in CATALOGUE}) == len(CATALOGUE)
    assert {m.model for m in CATALOGUE} == set(REFERENCE_MODELS)  # both reference models hold mutants
    correct = BackendFactory("numpy")
    for m in CATALOGUE:
        layers = layer_catalogue(phase0, m.model)
        assert m.layer_name in layers, m.name
        cls = correct.layer_class(layers[m.layer_name][1])
        assert issubclass(m.factory, cls) and m.factory is not cls, m.name  # a small subclass of the right layer
        assert set(m.caught_by) <= set(m.modes) <= set(MODES)


def layer_tensors(cls, kwargs: dict, case) -> dict[str, np.ndarray]:
    """Drive one layer outside the harness by the protocol, two steps on the same case (so state kept
    between steps shows): the tensors of the second step."""
    layer = cls(**kwargs)
    if hasattr(layer, "training"):
        layer.training = True
    if case.params:
        layer.params.update({k: v.copy() for k, v in case.params.items()})
    for _ in range(2):
        if case.mask is not None:
            layer.mask = case.mask.copy()
        if case.targets is not None:
            out = {"loss": np.asarray(layer.forward(case.x.copy(), case.targets.copy())), "grad_input": layer.backward()}
            continue
        out = {"output": layer.forward(case.x.copy())}
        out.update({k: np.asarray(layer.params[k]) for k in ("running_mean", "running_var") if k in layer.params})
        out["grad_input"] = layer.backward(case.dy.copy())
        out.update({f"grad_{k}": np.asarray(g) for k, g in layer.grads.items()})
    return out


@pytest.mark.parametrize("name", NAMES)
def test_each_mutant_really_differs_from_the_correct_layer(name, phase0):
    """Outside the harness, on the sweep's seeded cases for its layer: the mutant runs without raising and
    differs from the correct layer in an expected tensor (the train mode's weight/bias: in their gradient)."""
    m = next(m for m in CATALOGUE if m.name == name)
    spec = layer_catalogue(phase0, m.model)[m.layer_name][1]
    correct = BackendFactory("numpy").layer_class(spec)
    expected = {t if t.startswith(("grad_", "output", "loss", "running")) else f"grad_{t}" for t in m.expected_tensors}
    differs = []
    for config in own_configs(spec) + EXTRA_CONFIGS.get(spec.cls, []):
        case_spec = spec if config.kwargs is None else replace(spec, kwargs=config.kwargs)
        label = f"{config.layer_label(spec.cls) if config.kwargs else spec.name}, {config.label()}"
        case = sweep_case(case_spec, config, "float64", f"test_mutants/{name}/{label}")
        with np.errstate(all="ignore"):
            got = layer_tensors(m.factory, case_spec.kwargs, case)
        want = layer_tensors(correct, case_spec.kwargs, case)
        for tensor in expected & set(want):
            a, b = np.asarray(got[tensor]), np.asarray(want[tensor])
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-9):
                differs.append((label, tensor))
    assert differs, f"{name} computes the same {sorted(expected)} as the correct layer on every sweep case"


# ---- every mutant caught and localised (the CI gate), the correct layers pass ----------------------------------------

def test_the_quick_zoo_exits_0_and_says_so(quick_zoo):
    code, output, doc = quick_zoo
    assert code == 0, output
    assert doc["passed"] is True and doc["quick"] is True
    assert output.splitlines()[-1].startswith(f"PASS  {len(CATALOGUE)}/{len(CATALOGUE)} mutants caught and localised")


@pytest.mark.parametrize("name", NAMES)
def test_every_mutant_is_caught_and_localised(quick_zoo, name):
    m = next(m for m in CATALOGUE if m.name == name)
    e = entry(quick_zoo[2], name)
    assert e["caught"] and e["localised"] and e["problems"] == [], e["problems"]
    first = e["first_failure"]
    assert (first["origin"], first["tensor"] in m.expected_tensors) == (m.layer_name, True)
    assert {c["mode"] for c in e["caught_by"]} >= set(m.caught_by)  # every mode that must catch it did
    assert e["modes"] == [mode for mode in MODES if mode in m.caught_by] and e["dtypes"] == ["float64"]
    # caught for its numbers: no check crashed; in the modes that check a layer alone only its layer failed
    assert e["failures"] and all(f["reason"] in ("values", "nonfinite", "shape", "finding") for f in e["failures"])
    assert all(f["origin"] == m.layer_name for f in e["failures"] if f["mode"] in ("snapshot", "sweep"))


def test_the_correct_numpy_and_python_layers_pass_the_same_checks_in_each_model(quick_zoo, phase0):
    controls = quick_zoo[2]["controls"]
    assert [(c["model"], c["backend"]) for c in controls] == [(LENET, "numpy"), (LENET, "python"),
                                                              (LENET5, "numpy"), (LENET5, "python")]
    for c in controls:
        assert c["passed"] is True and c["first_failure"] is None, c
        assert c["layers"] == list(layer_catalogue(phase0, c["model"]))  # every layer of its model and the loss
        assert c["modes"] == [mode for mode in MODES if any(mode in m.caught_by for m in CATALOGUE)]
        assert c["dtypes"] == ["float64"] and c["checks"] > (300 if c["model"] == LENET else 150)


def test_the_table_has_a_row_per_mutant(quick_zoo, phase0):
    lines = quick_zoo[1].splitlines()
    assert lines[0].split()[:3] == ["mutant", "bug", "model"]
    for m, line in zip(CATALOGUE, lines[1:]):
        layers = layer_catalogue(phase0, m.model)
        assert line.startswith(m.name) and m.description in line
        assert f" {m.model} " in line and f"{m.layer_name} ({layers[m.layer_name][1].cls})" in line
        first = entry(quick_zoo[2], m.name)["first_failure"]
        assert f"{first['layer']}.{first['tensor']} [{first['mode']}, float64]" in line
        assert line.endswith("caught, localised")
        assert entry(quick_zoo[2], m.name)["model"] == m.model
    assert any(line.startswith("PASS  correct python layers of lenet (LeNet):") for line in lines)
    assert any(line.startswith("PASS  correct numpy layers of lenet5 (the 1998 LeNet-5):") for line in lines)


def test_the_accumulating_gradients_are_caught_at_the_layer_by_the_state_mode_and_by_training(quick_zoo):
    e = entry(quick_zoo[2], "conv-grads-accumulate")
    assert (e["first_failure"]["layer"], e["first_failure"]["tensor"], e["first_failure"]["mode"]) == (
        "conv2", "grads_overwritten", "state")
    assert {c["mode"] for c in e["caught_by"]} == {"state", "train"}  # training also sees it, as a symptom


# ---- the verdict rules ------------------------------------------------------------------------------------------------

def row(layer: str, tensor: str, mode: str = "snapshot", *, ok: bool = True, error: str | None = None) -> CheckResult:
    r = CheckResult(layer, tensor, mode, "float64", error=error)
    if error is None:
        r.comparison = compare(np.zeros(3), np.zeros(3) if ok else np.arange(3.0), atol=1e-10, rtol=1e-9, name=tensor)
    return r


POOL = Mutant("test-pool", "test", "pool1", ("grad_input",), Conv2d, modes=("snapshot", "hybrid"),
              caught_by=("snapshot",))


def verdict_of(*rows: CheckResult):
    run = CheckRun()
    run.extend(rows)
    return judge(POOL, run, checked=("pool1", "pool2"), modes=POOL.modes, dtypes=("float64",))


def test_a_failure_downstream_in_the_network_is_a_symptom_not_a_false_alarm():
    v = verdict_of(row("pool1", "output"), row("pool1", "grad_input", ok=False),
                   row("pool1", "grad_input", "hybrid", ok=False), row("conv1", "grad_input", "hybrid", ok=False))
    assert v.localised and v.caught_by == [("snapshot", "float64"), ("hybrid", "float64")]


@pytest.mark.parametrize("rows, problem", [
    ([row("pool1", "output"), row("pool1", "grad_input")], "not caught"),
    ([row("pool1", "output", error="PoolX.forward() raised RuntimeError: boom")], "a check crashed"),
    ([row("pool1", "output", ok=False), row("pool1", "grad_input", ok=False)], "expected pool1.grad_input"),
    ([row("pool2", "grad_input", ok=False), row("pool1", "grad_input", ok=False)], "first failure at pool2.grad_input"),
    ([row("pool1", "grad_input", ok=False), row("pool2", "output", "sweep", ok=False)], "false alarm"),
    ([row("pool1", "grad_input", "hybrid", ok=False)], "the snapshot mode must catch it"),
])
def test_what_is_not_caught_and_localised(rows, problem):
    v = verdict_of(*rows)
    assert not v.localised and any(problem in p for p in v.problems), v.problems


# ---- the command line ------------------------------------------------------------------------------------------------

class CrashingConv(Conv2d):
    """Not a mutant: it raises in backward, which the harness reports as a crash, not a catch."""

    def backward(self, dy):
        raise RuntimeError("boom")


@pytest.mark.parametrize("fake, words", [
    (Mutant("correct-conv", "the correct layer", "conv2", ("output",), Conv2d, modes=("snapshot",),
            caught_by=("snapshot",)), "MISSED"),
    (Mutant("crashing-conv", "raises in backward", "conv2", ("grad_input",), CrashingConv, modes=("snapshot",),
            caught_by=("snapshot",)), "a check crashed, a failure for the wrong reason"),
    (Mutant("misdiagnosed", "a sign bug expected as a scale", "conv2", ("grad_bias",), ConvBiasGradSign,
            modes=("snapshot",), caught_by=("snapshot",), diagnosis="scale"), "diagnosed 'sign', expected 'scale'"),
])
def test_a_mutant_not_caught_or_not_localised_fails_the_zoo(fake, words):
    report = run_zoo(CheckContext(BackendFactory("numpy"), phase0_path=PHASE0, weights_path=WEIGHTS), [fake])
    text = unstyle(table(report))
    assert not report.passed
    assert words in text and text.splitlines()[-1].startswith("FAIL  0/1 mutants")


def test_one_mutant_with_json(tmp_path):
    result = mutants("--mutant", "linear-weight-grad-reshaped", "--quick", "--json", str(tmp_path / "z.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "z.json").read_text())
    assert [m["name"] for m in doc["mutants"]] == ["linear-weight-grad-reshaped"]
    assert doc["mutants"][0]["first_failure"]["layer"] == "fc2"
    assert [c["layers"] for c in doc["controls"]] == [["fc1", "fc2", "fc3"]] * 2  # its kind's correct layers


@pytest.mark.parametrize("name, model, layers", [
    ("tanh-grad-from-input", LENET5, ["tanh1", "tanh2", "tanh3", "tanh4"]),
    ("crossentropy-summed", LENET5, ["loss"]),
    ("sigmoid-grad-no-one-minus", LENET, ["sigmoid3", "sigmoid4"]),
])
def test_one_new_mutant_runs_in_its_model_with_that_models_controls(tmp_path, name, model, layers):
    result = mutants("--mutant", name, "--quick", "--json", str(tmp_path / "z.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "z.json").read_text())
    assert [(m["name"], m["model"], m["localised"]) for m in doc["mutants"]] == [(name, model, True)]
    assert [(c["model"], c["layers"]) for c in doc["controls"]] == [(model, layers)] * 2


def test_the_zoos_weights_serve_the_model_they_fit(phase0):
    context = CheckContext(BackendFactory("numpy"), phase0=phase0, weights_path=WEIGHTS)  # LeNet's file
    assert model_context(context, LENET).weights == WEIGHTS
    assert model_context(context, LENET5).weights == DEFAULT_LENET5_WEIGHTS  # LeNet's would not fit LeNet-5
    assert model_context(replace(context, weights_path=DEFAULT_LENET5_WEIGHTS), LENET5).weights == DEFAULT_LENET5_WEIGHTS


def test_a_mutant_in_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="model 'lenet_variants' must be one of lenet, lenet5"):
        Mutant("bad", "test", "sigmoid3", ("grad_input",), Conv2d, model="lenet_variants")


def test_an_unknown_mutant_is_bad_input():
    result = mutants("--mutant", "no-such-bug")
    assert result.exit_code == 2
    assert result.output.startswith("error: --mutant no-such-bug: no such mutant") and "loss-summed" in result.output


@pytest.mark.slow
def test_the_full_zoo_in_every_mode_and_dtype(tmp_path, mnist_root):
    start = time.perf_counter()
    result = mutants("--data-root", str(mnist_root), "--json", str(tmp_path / "z.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "z.json").read_text())
    assert all(m["localised"] and m["dtypes"] == ["float32", "float64"] for m in doc["mutants"])
    assert all(c["passed"] and c["modes"] == list(MODES) for c in doc["controls"])
    print(f"lenet-parity mutants: {time.perf_counter() - start:.1f} s")
