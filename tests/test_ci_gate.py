"""The CI gate's commands through click's CliRunner: ``trace`` for both backends exits 0, ``check --impl`` with a
zoo mutant exits 1, and ``trace`` names the broken layer when one is planted through its CheckContext.

``check all`` for both backends is in test_check_cli.py, ``mutants`` in test_mutants.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lenet_parity.harness.cli import main
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.mutants.catalogue import find
from lenet_parity.harness.mutants.runner import PlantedFactory
from lenet_parity.harness.trace import summary, trace

from conftest import PHASE0, WEIGHTS

PATHS = ["--phase0", str(PHASE0), "--weights", str(WEIGHTS)]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("backend, extra", [("numpy", ["--variants"]), ("python", [])])
def test_trace_passes_for_both_backends(backend, extra, tmp_path):
    result = invoke("trace", "--backend", backend, "--dtype", "float64", *extra, *PATHS, "--json", str(tmp_path / "t.json"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == ["forward: no divergence", "backward: no divergence"]
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["passed"] is True and {"conv1", "fc3", "loss"} <= {r["layer"] for r in doc["results"]}


@pytest.mark.parametrize("name, forward, backward", [
    # everything after conv1 diverges; NLL's gradient (-1/N at the target) does not depend on its input
    ("conv-flipped-kernel", "conv1.output", "logsoftmax.grad_input"),
    ("pool-grad-every-tied-max", None, "pool1.grad_input"),  # a backward-only bug: the forward is clean
])
def test_trace_names_the_broken_layer(name, forward, backward):
    run = trace(CheckContext(PlantedFactory(find(name)), phase0_path=PHASE0, weights_path=WEIGHTS))
    assert not run.passed
    lines = summary(run).splitlines()
    assert lines[-2] == "forward: no divergence" if forward is None else lines[-2].startswith(
        f"forward: first divergence at {forward} [hybrid, float64]")
    assert lines[-1].startswith(f"backward: first divergence at {backward} [hybrid, float64]")


def test_check_impl_of_a_mutant_exits_1_and_names_the_broken_tensor(tmp_path):
    impl = "lenet_parity.harness.mutants.dense_head:LinearBiasGradMean"
    result = invoke("check", "dense", "--layer", "fc1", "--impl", impl, "--mode", "snapshot", *PATHS,
                    "--json", str(tmp_path / "c.json"))
    assert result.exit_code == 1, result.output
    assert "first failure: fc1.grad_bias [snapshot, float32]" in result.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert {(r["layer"], r["tensor"]) for r in doc["results"] if not r["passed"]} == {("fc1", "grad_bias")}
