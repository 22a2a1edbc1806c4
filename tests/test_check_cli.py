"""`lenet-parity check` through click's CliRunner: exit codes, the report, --json, --junit, bad input.

The broken layers are small subclasses of the numpy ones, defined here and loaded with
``--impl tests/test_check_cli.py:CLASS``, the way a user checks their own layer.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from lenet_parity.custom_layers.numpy.conv import Conv2d
from lenet_parity.harness.cli import main
from lenet_parity.vocabulary import TENSORS

from conftest import PHASE0, ROOT, WEIGHTS

HERE = Path(__file__).resolve()
ALL_LAYERS = {"conv1", "bn1", "relu1", "pool1", "res1", "conv2", "bn2", "relu2", "pool2", "flatten", "fc1", "bn3",
              "sigmoid3", "relu3", "drop1", "fc2", "bn4", "sigmoid4", "relu4", "drop2", "fc3", "softmax", "logsoftmax",
              "loss"}
SCHEMA_KEYS = {"layer", "tensor", "mode", "dtype", "passed", "max_abs_err", "max_rel_err", "mismatched", "worst_index",
               "atol", "rtol"}


# ---- broken user layers: each is wrong in one way --------------------------------------------------------------

class BiasGradSign(Conv2d):
    """The bias gradient with the wrong sign: only grad_bias differs."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bias"] = -self.grads["bias"]
        return dx


class RaisesOnConv2(Conv2d):
    """Crashes on conv2's input (6 channels) only, so conv1 is still checked and passes."""

    def forward(self, x):
        if self.in_channels == 6:
            raise RuntimeError("kaboom in conv2")
        return super().forward(x)


class NaNOnConv2(Conv2d):
    def forward(self, x):
        y = super().forward(x)
        if self.in_channels == 6:
            y[0, 0, 0, 0] = np.nan
        return y


class WrongShapeOnConv2(Conv2d):
    def forward(self, x):
        y = super().forward(x)
        return y[:, :, :-1, :] if self.in_channels == 6 else y


class NoBackward:
    """Forward is right (delegated), but there is no backward method at all."""

    array_kind = "numpy"

    def __init__(self, **kwargs):
        self._conv = Conv2d(**kwargs)
        self.params = self._conv.params
        self.grads = {}

    def forward(self, x):
        return self._conv.forward(x)


class SlightlyOff(Conv2d):
    """Outputs off by 1e-3: fails the table's float64 tolerance, passes --atol 1e-2."""

    def forward(self, x):
        return super().forward(x) + x.dtype.type(1e-3)


# ---- helpers ---------------------------------------------------------------------------------------------------

def check(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def impl(cls: type) -> str:
    return f"{HERE}:{cls.__name__}"


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


# ---- the whole catalogue passes ---------------------------------------------------------------------------------

def test_check_all_numpy_passes_and_json_says_so(tmp_path):
    start = time.perf_counter()
    result = check("all", "--backend", "numpy", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "FAIL" not in result.output
    doc = read_json(tmp_path / "r.json")
    assert doc["passed"] is True and doc["first_failure"] is None
    assert {r["origin"] for r in doc["results"]} == ALL_LAYERS | {"network"}  # the variants model's output rows
    others = {r["layer"] for r in doc["results"] if r["origin"] != "network"} - ALL_LAYERS  # other configurations
    assert others and all(label.endswith(")") and "(" in label for label in others), others
    assert {"snapshot", "sweep"} <= {r["mode"] for r in doc["results"]}
    assert {r["dtype"] for r in doc["results"]} == {"float32", "float64"}
    for r in doc["results"]:
        assert SCHEMA_KEYS <= set(r), r
        assert r["passed"] is True and r["tensor"] in TENSORS
    print(f"check all --backend numpy: {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("mode", ["snapshot", "sweep"])
def test_check_all_python_backend_passes(mode):
    result = check("all", "--backend", "python", "--mode", mode)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("PASS")


@pytest.mark.slow
def test_check_all_python_backend_passes_every_mode():
    result = check("all", "--backend", "python")
    assert result.exit_code == 0, result.output


def test_passing_run_prints_only_a_summary():
    result = check("pool", "--mode", "snapshot")
    assert result.exit_code == 0
    assert [line for line in result.output.splitlines() if not line.startswith("note:")] == [
        "PASS  8 passed, 0 failed (2 layers, 8 checks; modes snapshot; float32, float64)"]


def test_verbose_prints_every_row():
    result = check("relu", "--mode", "snapshot", "--dtype", "float64", "-v")
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("ok ")]
    assert len(rows) == 8  # relu1..relu4 x (output, grad_input)
    assert all(" relu" in row for row in rows)


def test_the_example_user_conv_passes():
    result = CliRunner().invoke(main, ["check", "conv", "--impl", str(ROOT / "examples" / "my_conv.py") + ":MyConv2d",
                                       "--mode", "sweep"])
    assert result.exit_code == 0, result.output
    result = check("conv", "--impl", str(ROOT / "examples" / "my_conv.py") + ":MyConv2d", "--mode", "snapshot")
    assert result.exit_code == 0, result.output


# ---- a broken layer: exit 1, localised ----------------------------------------------------------------------------

def test_broken_layer_is_named_in_report_and_json(tmp_path):
    result = check("conv", "--impl", impl(BiasGradSign), "--mode", "snapshot", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    assert "first failure: conv2.grad_bias [snapshot, float32]" in result.output  # backward order: conv2 first
    doc = read_json(tmp_path / "r.json")
    assert doc["passed"] is False
    assert doc["first_failure"]["layer"] == "conv2" and doc["first_failure"]["tensor"] == "grad_bias"
    failed = {(r["layer"], r["tensor"]) for r in doc["results"] if not r["passed"]}
    assert failed == {("conv1", "grad_bias"), ("conv2", "grad_bias")}
    bias = next(r for r in doc["results"] if r["layer"] == "conv1" and r["tensor"] == "grad_bias")
    assert bias["mismatched"] == 6 and bias["max_rel_err"] == pytest.approx(2.0, rel=1e-3)


def test_junit_has_a_case_per_layer_and_tensor(tmp_path):
    result = check("conv", "--impl", impl(BiasGradSign), "--mode", "snapshot", "--junit", str(tmp_path / "r.xml"),
                   "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    root = ET.parse(tmp_path / "r.xml").getroot()
    cases = root.findall(".//testcase")
    doc = read_json(tmp_path / "r.json")
    assert len(cases) == len(doc["results"]) == 2 * 2 * 4  # dtypes x layers x (output, grad_input, grad_w, grad_b)
    names = {(c.get("classname").rsplit(".", 1)[-1], c.get("name")) for c in cases}
    assert ("conv1", "conv1.grad_bias") in names and ("conv2", "conv2.output") in names
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"conv1.grad_bias", "conv2.grad_bias"}
    assert root.get("failures") == "4"


@pytest.mark.parametrize("cls, reason", [
    (RaisesOnConv2, "RaisesOnConv2.forward() raised RuntimeError: kaboom in conv2"),
    (NaNOnConv2, "NaN or Inf"),
    (WrongShapeOnConv2, "shape (4, 16, 7, 8) != expected (4, 16, 8, 8)"),
])
def test_user_layer_failing_on_one_layer_leaves_the_other_checked(tmp_path, cls, reason):
    result = check("conv", "--impl", impl(cls), "--mode", "snapshot", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 1, result.output
    assert reason in result.output
    doc = read_json(tmp_path / "r.json")
    assert doc["first_failure"]["layer"] == "conv2" and doc["first_failure"]["tensor"] == "output"
    conv1 = [r for r in doc["results"] if r["layer"] == "conv1"]
    assert len(conv1) == 8 and all(r["passed"] for r in conv1)


def test_user_layer_without_backward(tmp_path):
    result = check("conv", "--impl", impl(NoBackward), "--mode", "snapshot", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    assert "NoBackward has no backward() method" in result.output
    doc = read_json(tmp_path / "r.json")
    by_tensor = {(r["layer"], r["tensor"], r["dtype"]): r for r in doc["results"]}
    assert all(by_tensor[(layer, "output", d)]["passed"] for layer in ("conv1", "conv2") for d in ("float32", "float64"))
    assert by_tensor[("conv1", "grad_input", "float64")]["error"].startswith("NoBackward has no backward()")
    assert by_tensor[("conv1", "grad_weight", "float64")]["error"] == "not run: backward failed"


def test_user_layer_in_every_mode_still_reports_instead_of_crashing(tmp_path):
    result = check("conv", "--impl", impl(RaisesOnConv2), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 1, result.output
    doc = read_json(tmp_path / "r.json")
    sweep_conv1 = [r for r in doc["results"] if r["mode"] == "sweep" and r["layer"] == "conv1"]
    assert sweep_conv1 and all(r["passed"] for r in sweep_conv1)


# ---- tolerances ----------------------------------------------------------------------------------------------------

def test_atol_rtol_override_the_table(tmp_path):
    failing = check("conv", "--impl", impl(SlightlyOff), "--mode", "snapshot", "--dtype", "float64")
    assert failing.exit_code == 1
    passing = check("conv", "--impl", impl(SlightlyOff), "--mode", "snapshot", "--dtype", "float64",
                    "--atol", "1e-2", "--rtol", "0", "--json", str(tmp_path / "r.json"))
    assert passing.exit_code == 0, passing.output
    doc = read_json(tmp_path / "r.json")
    assert {(r["atol"], r["rtol"]) for r in doc["results"]} == {(1e-2, 0.0)}
    assert doc["meta"]["tolerance_override"] == {"atol": 1e-2, "rtol": 0.0}


def test_atol_without_rtol_is_bad_input():
    assert "--atol and --rtol" in one_error_line(check("conv", "--atol", "1e-3"))


# ---- bad input: exit 2, one line ---------------------------------------------------------------------------------

def test_impl_that_does_not_exist(tmp_path):
    result = check("conv", "--impl", str(tmp_path / "nope.py") + ":MyConv2d")
    assert result.exit_code == 2
    assert "not found" in one_error_line(result)


def test_impl_with_a_missing_class():
    result = check("conv", "--impl", f"{HERE}:NoSuchConv")
    assert result.exit_code == 2
    assert "has no 'NoSuchConv'" in one_error_line(result) and "BiasGradSign" in result.output


def test_impl_that_fails_to_import(tmp_path):
    broken = tmp_path / "broken_layer.py"
    broken.write_text("import numpy as np\nclass MyConv2d(:\n    pass\n")
    result = check("conv", "--impl", f"{broken}:MyConv2d")
    assert result.exit_code == 2
    assert "SyntaxError" in one_error_line(result)


@pytest.mark.parametrize("spec", ["no_colon_here", "no_such_module_xyz:Cls"])
def test_impl_spec_that_cannot_be_imported(spec):
    result = check("conv", "--impl", spec)
    assert result.exit_code == 2
    one_error_line(result)


def test_impl_with_type_all_needs_a_layer():
    result = check("all", "--impl", impl(BiasGradSign))
    assert result.exit_code == 2
    assert "--layer" in one_error_line(result)


def test_wrong_version_phase0(tmp_path):
    doc = json.loads(PHASE0.read_text())
    doc["format_version"] = 99
    bad = tmp_path / "phase0.json"
    bad.write_text(json.dumps(doc))
    result = check("relu", "--mode", "snapshot", "--phase0", str(bad))
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "format_version 99" in line and "make phase0" in line


def test_unreadable_weights(tmp_path):
    bad = tmp_path / "weights.json"
    bad.write_text("{not json")
    result = check("relu", "--mode", "hybrid", "--weights", str(bad))
    assert result.exit_code == 2
    assert "make weights" in one_error_line(result)


def test_missing_phase0(tmp_path):
    result = check("relu", "--mode", "snapshot", "--phase0", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert "make phase0" in one_error_line(result)


@pytest.mark.parametrize("args, words", [
    (["conv", "--layer", "relu1"], "relu1 is a relu layer, not conv"),
    (["all", "--layer", "conv9"], "no such layer"),
    (["conv", "--backend", "python", "--impl", "x.py:C"], "exclude each other"),
])
def test_bad_option_combinations(args, words):
    result = check(*args)
    assert result.exit_code == 2
    assert words in one_error_line(result)


def test_layer_picks_one_instance(tmp_path):
    result = check("all", "--layer", "pool2", "--mode", "snapshot", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0
    assert {r["layer"] for r in read_json(tmp_path / "r.json")["results"]} == {"pool2"}


def test_check_runs_from_another_directory_with_explicit_paths(tmp_path, monkeypatch):
    """--phase0 and --weights point anywhere; nothing depends on the working directory."""
    shutil.copy(PHASE0, tmp_path / "p0.json")
    monkeypatch.chdir(tmp_path)
    result = check("flatten", "--mode", "snapshot", "--phase0", "p0.json", "--weights", str(WEIGHTS))
    assert result.exit_code == 0, result.output


def test_verbose_lists_checks_without_numbers_and_unsupported_ones(tmp_path):
    """-v prints a row for every check: the state mode's (no numbers) and the configurations a layer declines."""
    result = CliRunner().invoke(main, ["check", "relu", "--mode", "state", "--dtype", "float64", "-v"])
    assert result.exit_code == 0, result.output
    assert "ok   state    float64 relu1      deterministic held" in result.output
    no_stride = tmp_path / "no_stride.py"
    no_stride.write_text("from lenet_parity.custom_layers.numpy.conv import Conv2d as Ours\n\n\n"
                         "class Conv2d(Ours):\n"
                         "    def __init__(self, in_channels, out_channels, kernel_size):\n"
                         "        super().__init__(in_channels, out_channels, kernel_size)\n")
    result = CliRunner().invoke(main, ["check", "conv", "--impl", f"{no_stride}:Conv2d", "--mode", "sweep",
                                       "--dtype", "float64", "-v"])
    assert result.exit_code == 0, result.output
    assert "unsupported: its constructor does not take stride" in result.output
    assert "n/a  sweep" in result.output
