"""The gate's own inputs and outputs: tolerances that would pass anything, report destinations (stdout, symlinks,
unwritable folders), Ctrl-C, a data file that is a directory, and a resumed run with other settings."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PHASE0, ROOT, WEIGHTS, ctrl_c_reaches_it
from lenet_parity.harness.cli import main
from lenet_parity.harness.tolerances import TABLE

PATHS = ["--phase0", str(PHASE0), "--weights", str(WEIGHTS)]
CLI = str(Path(sys.executable).with_name("lenet-parity"))


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("atol, rtol", [("nan", "0"), ("0", "nan"), ("inf", "0"), ("-1", "0")])
def test_a_tolerance_that_would_pass_anything_is_bad_input(atol, rtol):
    result = invoke("check", "relu", "--mode", "snapshot", *PATHS, "--atol", atol, "--rtol", rtol)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [f"error: --atol and --rtol must be finite and >= 0, got "
                                                  f"{float(atol)} and {float(rtol)}"]


def test_every_table_tolerance_is_finite_and_non_negative():
    for dtype, entries in TABLE.items():
        for kind, tol in entries.items():
            assert math.isfinite(tol.atol) and math.isfinite(tol.rtol) and min(tol.atol, tol.rtol) >= 0, (dtype, kind)


def test_nan_from_a_layer_fails_even_with_huge_tolerances(tmp_path):
    layer = tmp_path / "nan_relu.py"
    layer.write_text("import numpy as np\n\nclass NanReLU:\n    def __init__(self):\n        self.params, self.grads = {}, {}\n"
                     "    def forward(self, x):\n        return np.full_like(x, np.nan)\n"
                     "    def backward(self, dy):\n        return np.full_like(dy, np.nan)\n")
    result = invoke("check", "relu", "--impl", f"{layer}:NanReLU", "--mode", "snapshot", *PATHS,
                    "--atol", "1e300", "--rtol", "1e300")
    assert result.exit_code == 1 and "NaN or Inf" in result.output


def test_json_to_stdout_is_the_document_alone():
    out = subprocess.run([CLI, "check", "relu", "--mode", "snapshot", *PATHS, "--json", "-"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert document["passed"] is True and "PASS" in out.stderr


def test_a_symlinked_report_is_written_through(tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    link.symlink_to(target)
    result = invoke("check", "relu", "--mode", "snapshot", *PATHS, "--json", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and json.loads(target.read_text())["passed"] is True


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_report_folder_is_bad_input_before_any_check(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    result = invoke("check", "relu", *PATHS, "--json", str(folder / "r.json"))
    assert result.exit_code == 2 and "choose another path" in result.output and "PASS" not in result.output


def test_a_report_where_no_folder_can_be_made_is_bad_input_before_any_check(tmp_path):
    (tmp_path / "file").write_text("")
    result = invoke("check", "relu", *PATHS, "--junit", str(tmp_path / "file" / "r.xml"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --junit {tmp_path / 'file' / 'r.xml'}:") and "PASS" not in result.output


def test_ctrl_c_is_exit_130_with_one_line_and_no_stray_process(tmp_path):
    layer = tmp_path / "slow_relu.py"
    layer.write_text("import time\n\nclass SlowReLU:\n    def __init__(self):\n        self.params, self.grads = {}, {}\n"
                     "    def forward(self, x):\n        time.sleep(600)\n        return x\n"
                     "    def backward(self, dy):\n        return dy\n")
    proc = subprocess.Popen([CLI, "check", "relu", "--impl", f"{layer}:SlowReLU", "--mode", "snapshot", *PATHS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=ctrl_c_reaches_it)
    deadline = time.monotonic() + 120  # not a timing: wait for the worker to exist (asleep in forward), however
    while time.monotonic() < deadline and proc.poll() is None:  # loaded the machine is
        if subprocess.run(["pgrep", "-f", f"worker_main .*{layer}"], capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # its first call under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)  # Ctrl-C never waits for the layer's call (600 s) to end
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1].startswith("interrupted:")
    left = subprocess.run(["pgrep", "-f", f"worker_main .*{layer}"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_a_data_file_that_is_a_directory_is_one_line_and_exit_2(tmp_path, mnist_root):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").iterdir():
        if f.is_file():
            shutil.copy(f, raw / f.name)
    (raw / "train-labels-idx1-ubyte").unlink()
    (raw / "train-labels-idx1-ubyte").mkdir()
    (raw / ".fetch-leftover").mkdir()  # a killed run's staging folder
    result = invoke("data", "fetch", "--root", str(tmp_path), "--no-download")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {raw / 'train-labels-idx1-ubyte'} is a directory, not the IDX file; remove it, then run: make data "
        f"(or lenet-parity data fetch --dataset mnist)"] or "is a directory, not the IDX file" in result.output
    assert not (raw / ".fetch-leftover").exists()


def test_train_resume_refuses_other_settings_and_restart_starts_over(tmp_path, mnist_root):
    common = ["train", "--out", str(tmp_path / "run"), "--data-root", str(mnist_root), "--weights", str(WEIGHTS),
              "--limit", "128", "--epochs", "1"]
    first = invoke(*common)
    assert first.exit_code == 0, first.output
    other = invoke(*common, "--dtype", "float64")
    assert other.exit_code == 2 and "its dtype differ" in other.output and "--restart" in other.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["dtype"] == "float32"  # the refused run recorded nothing
    again = invoke(*common, "--dtype", "float64", "--restart")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["dtype"] == "float64"


def test_file_names_made_from_paths_are_flat():
    from lenet_parity.atomic import safe_name

    assert safe_name("/tmp/class/alice.py:Conv2d") == "tmp_class_alice.py_Conv2d"
    assert safe_name("../..") == "unnamed" and "/" not in safe_name("a/b\\c d")
