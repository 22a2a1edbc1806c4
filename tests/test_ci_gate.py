"""The CI gate's commands through click's CliRunner: ``trace`` for both backends exits 0, and ``trace`` and
``check`` exit 1 when one layer is broken (a zoo mutant planted through the factory they build layers with).

``check all`` for both backends is in test_check_cli.py, ``mutants`` in test_mutants.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lenet_parity.harness import check_runner
from lenet_parity.harness import trace as trace_module
from lenet_parity.harness.cli import main
from lenet_parity.harness.mutants.catalogue import find
from lenet_parity.harness.mutants.runner import PlantedFactory

from conftest import PHASE0, WEIGHTS

PATHS = ["--phase0", str(PHASE0), "--weights", str(WEIGHTS)]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def plant(monkeypatch, module, name: str) -> None:
    """The module's BackendFactory builds the correct NumPy layers, with the mutant ``name`` at its layer."""
    monkeypatch.setattr(module, "BackendFactory", lambda backend: PlantedFactory(find(name)))


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
def test_trace_exits_1_and_names_the_broken_layer(monkeypatch, name, forward, backward):
    plant(monkeypatch, trace_module, name)
    result = invoke("trace", "--dtype", "float64", *PATHS)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-2] == "forward: no divergence" if forward is None else lines[-2].startswith(
        f"forward: first divergence at {forward} [hybrid, float64]")
    assert lines[-1].startswith(f"backward: first divergence at {backward} [hybrid, float64]")


def test_check_all_exits_1_and_names_the_broken_layer(monkeypatch, tmp_path):
    plant(monkeypatch, check_runner, "linear-bias-grad-mean")
    result = invoke("check", "all", "--backend", "numpy", "--mode", "snapshot", *PATHS, "--json", str(tmp_path / "c.json"))
    assert result.exit_code == 1, result.output
    assert "first failure: fc1.grad_bias [snapshot, float32]" in result.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert {(r["layer"], r["tensor"]) for r in doc["results"] if not r["passed"]} == {("fc1", "grad_bias")}
