"""The Python API and the pytest helper, used as a student would: from a folder outside the repository, with a
class defined in the script itself (sent to the isolated worker by value); and whole files for check and trace."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from click.testing import CliRunner

from conftest import ROOT
from lenet_parity.harness.cli import main

STUDENT = ROOT / "tests" / "student_layers"

NOTEBOOK = textwrap.dedent('''
    import numpy as np
    from lenet_parity import check_layer, check_network

    class ReLU:
        def __init__(self):
            self.params, self.grads = {}, {}
        def forward(self, x):
            self.x = x
            return np.maximum(x, 0)
        def backward(self, dy):
            return dy * (self.x >= 0)

    run = check_layer(ReLU, "relu", modes=["snapshot", "state", "sweep"])
    print(run.passed, run.first_failure.likely().code, "\\x1b" in str(run), "<pre>" in run._repr_html_())
    good = check_layer("{student}:ReLU", "relu", modes=["snapshot", "sweep"])
    print(good.passed, good.to_dict()["counts"]["failed"])
    print(check_network("{student}").passed)
''').replace("{student}", str(STUDENT / "numpy_layers.py"))

USER_TEST = textwrap.dedent('''
    from lenet_parity.testing import assert_layer_parity

    class Flatten:
        def __init__(self):
            self.params, self.grads = {}, {}
        def forward(self, x):
            self.shape = x.shape
            return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)
        def backward(self, dy):
            return dy.reshape(self.shape)

    def test_helper():
        assert_layer_parity(Flatten, "flatten", modes=["snapshot"])

    def test_fixture(layer_parity):
        layer_parity(Flatten, "flatten", modes=["snapshot"])
''')


def test_the_api_from_a_script_outside_the_repository(tmp_path):
    (tmp_path / "notebook.py").write_text(NOTEBOOK)
    out = subprocess.run([sys.executable, "notebook.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "relu-at-zero", "False", "True", "True", "0", "True"]


def test_a_users_pytest_file_gets_plain_failures_with_the_cause(tmp_path):
    (tmp_path / "test_mine.py").write_text(USER_TEST)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 1 and "2 failed" in out.stdout
    assert "likely cause: flattened in channels-last" in out.stdout and "\x1b[" not in out.stdout


def test_check_all_and_trace_take_a_whole_file():
    result = CliRunner().invoke(main, ["check", "all", "--impl", str(STUDENT / "numpy_layers.py"), "--mode", "snapshot"])
    assert result.exit_code == 0, result.output
    assert "10 unsupported" in result.output and "defines no BatchNorm2d" in result.output
    broken = CliRunner().invoke(main, ["trace", "--impl", str(STUDENT / "buggy" / "B02_conv_forward_kernel_flipped.py"),
                                       "--dtype", "float64"])
    assert broken.exit_code == 1
    assert broken.output.splitlines()[-2].startswith("forward: first divergence at conv1.output")


def test_a_whole_file_without_one_of_lenets_layers_fails_that_layer(tmp_path):
    only_relu = tmp_path / "only_relu.py"
    only_relu.write_text((STUDENT / "numpy_layers.py").read_text().replace("class Conv2d", "class NotAConv"))
    result = CliRunner().invoke(main, ["check", "all", "--impl", str(only_relu), "--mode", "snapshot"])
    assert result.exit_code == 1
    assert f"{only_relu} defines no Conv2d: LeNet's conv1 needs one" in result.output
