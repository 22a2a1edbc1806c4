"""check --repro: a standalone pytest file per failing layer, on its smallest failing case, that fails with the
buggy layer and passes once the bug is fixed, importing only numpy, pytest and the layer's own class."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from conftest import PHASE0, ROOT, WEIGHTS
from lenet_parity.harness.cli import main

CORRECT = ROOT / "examples" / "my_conv.py"


def test_repro_fails_with_the_bug_and_passes_without_it(tmp_path):
    buggy = tmp_path / "buggy_conv.py"
    buggy.write_text(CORRECT.read_text().replace('self.grads["bias"] = dy.sum(axis=(0, 2, 3))',
                                                 'self.grads["bias"] = dy.sum(axis=(2, 3)).mean(axis=0)'))
    out = tmp_path / "repro"
    result = CliRunner().invoke(main, ["check", "conv", "--impl", f"{buggy}:MyConv2d", "--mode", "snapshot", "--mode",
                                       "sweep", "--phase0", str(PHASE0), "--weights", str(WEIGHTS), "--repro", str(out)])
    assert result.exit_code == 1, result.output
    tests = sorted(p.name for p in out.glob("test_*.py"))
    assert tests == ["test_conv1.py", "test_conv2.py"] and (out / "conv1.npz").is_file()
    source = (out / "test_conv1.py").read_text()
    assert "lenet_parity" not in source and "torch" not in source.replace("torch's", "")
    assert "x (3, 1, 7, 11)" in source  # the smallest failing case: at N=1 a mean over the batch is the sum

    def pytest_in(folder):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
                              capture_output=True, text=True, cwd=folder, timeout=120)

    assert pytest_in(out).returncode == 1
    for test in out.glob("test_*.py"):
        test.write_text(test.read_text().replace(str(buggy), str(CORRECT)))
    assert pytest_in(out).returncode == 0
