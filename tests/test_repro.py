"""check --repro: a standalone pytest file per failing layer, on its smallest failing case, that fails with the
buggy layer and passes once the bug is fixed, importing only numpy, pytest and the layer's own class from a copy
of the checked file beside it (so the folder runs anywhere); student text in it only as data; written whole."""

from __future__ import annotations

import ast
import errno
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import PHASE0, ROOT, WEIGHTS
from lenet_parity.harness.cli import main

CORRECT = ROOT / "examples" / "my_conv.py"
BUGGY_BIAS = CORRECT.read_text().replace('self.grads["bias"] = dy.sum(axis=(0, 2, 3))',
                                         'self.grads["bias"] = dy.sum(axis=(2, 3)).mean(axis=0)')


def check_repro(impl, out, *modes, layer_type="conv"):
    args = ["check", layer_type, "--impl", impl, "--phase0", str(PHASE0), "--weights", str(WEIGHTS),
            "--repro", str(out)]
    for mode in modes or ("snapshot",):
        args += ["--mode", mode]
    return CliRunner().invoke(main, args)


def pytest_in(folder, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
                          capture_output=True, text=True, cwd=cwd or folder, timeout=120, env=env)


def test_repro_fails_with_the_bug_and_passes_without_it(tmp_path):
    buggy = tmp_path / "buggy_conv.py"
    buggy.write_text(BUGGY_BIAS)
    out = tmp_path / "repro"
    result = check_repro(f"{buggy}:MyConv2d", out, "snapshot", "sweep")
    assert result.exit_code == 1, result.output
    tests = sorted(p.name for p in out.glob("test_*.py"))
    assert tests == ["test_conv1.py", "test_conv2.py"] and (out / "conv1.npz").is_file()
    source = (out / "test_conv1.py").read_text()
    assert "lenet_parity" not in source and "torch" not in source.replace("torch's", "")
    assert "x (3, 1, 7, 11)" in source  # the smallest failing case: at N=1 a mean over the batch is the sum
    assert (out / "buggy_conv.py").read_bytes() == buggy.read_bytes()  # the copy the tests import
    assert pytest_in(out).returncode == 1
    (out / "buggy_conv.py").write_text(CORRECT.read_text())  # the student fixes the copy beside the tests
    assert pytest_in(out).returncode == 0


@pytest.mark.parametrize("name, copy", [("my_conv.py", "my_conv.py"), ("test_layers.py", "layer_under_test.py")])
def test_a_moved_repro_folder_runs_without_the_original_file(tmp_path, name, copy):
    """On the student's machine: the folder copied elsewhere, the graded file gone, pytest run from another
    folder: it fails with the layer's mismatch, not an ImportError. A file named as pytest collects tests is
    copied under another name."""
    (tmp_path / "src").mkdir()
    buggy = tmp_path / "src" / name
    buggy.write_text(BUGGY_BIAS)
    out = tmp_path / "repro"
    assert check_repro(f"{buggy}:MyConv2d", out).exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(["conv1.npz", "conv2.npz", copy, "test_conv1.py",
                                                            "test_conv2.py"])
    assert str(tmp_path) not in (out / "test_conv1.py").read_text()
    moved = tmp_path / "elsewhere" / "repro"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    shutil.rmtree(tmp_path / "src")
    (tmp_path / "other").mkdir()
    run = pytest_in(moved, cwd=tmp_path / "other")
    assert run.returncode == 1, run.stdout
    assert "2 failed" in run.stdout and "Not equal to tolerance" in run.stdout
    assert "Error" not in run.stdout.replace("AssertionError", "")  # no ImportError, FileNotFoundError, ...


def test_a_module_class_repro_imports_the_module(tmp_path, monkeypatch):
    """MODULE:CLASS (an importable module, not a file): the repro imports the module, as before; nothing copied."""
    (tmp_path / "buggy_module.py").write_text(BUGGY_BIAS)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "repro"
    assert check_repro("buggy_module:MyConv2d", out).exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["conv1.npz", "conv2.npz", "test_conv1.py", "test_conv2.py"]
    assert "IMPL, CLASS = 'buggy_module', 'MyConv2d'" in (out / "test_conv1.py").read_text()
    run = pytest_in(out, cwd=tmp_path)  # python -m pytest: the current folder is importable
    assert run.returncode == 1 and "2 failed" in run.stdout and "Not equal to tolerance" in run.stdout, run.stdout
    (tmp_path / "buggy_module.py").write_text(CORRECT.read_text())
    assert pytest_in(out, cwd=tmp_path).returncode == 0


PAYLOADS = {  # text a layer can put into its failure, each trying to close the string it lands in and run code
    "docstring": '"""; import pathlib; pathlib.Path({marker!r}).write_text("x"); """',
    "single-quotes": "'''; import pathlib; pathlib.Path({marker!r}).write_text('x'); '''",
    "one-quote": "\\'; import pathlib; pathlib.Path({marker!r}).write_text('x'); x = '",
}
WHERE = {  # how the text reaches the report: the exception's message, the exception's class name, the layer's
    "message": "def forward(self, x):\n        raise RuntimeError(PAYLOAD)\n",
    "exception-class": "def forward(self, x):\n        raise Boom()\n",
    "layer-class": "def forward(self, x):\n        return 'not an array'\n",
}
EVIL_RELU = '''import numpy as np

PAYLOAD = {payload!r}


class Boom(Exception):
    pass


Boom.__name__ = PAYLOAD


class ReLU:
    array_kind = "numpy"

    def __init__(self):
        self.params, self.grads = {{}}, {{}}

    {forward}
    def backward(self, dy):
        return dy


{rename}
'''


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("where", sorted(WHERE))
def test_student_text_is_data_in_the_repro(tmp_path, payload, where):
    """A message or class name carrying quotes and code: the repro parses, holds the text only as string
    literals, and running it never runs the payload (which would write a marker file)."""
    marker = tmp_path / "PWNED"
    text = PAYLOADS[payload].format(marker=str(marker))
    evil = tmp_path / "evil_relu.py"
    evil.write_text(EVIL_RELU.format(payload=text, forward=WHERE[where],
                                     rename="ReLU.__name__ = ReLU.__qualname__ = PAYLOAD" if where == "layer-class"
                                     else ""))
    out = tmp_path / "repro"
    result = check_repro(f"{evil}:ReLU", out, layer_type="relu")
    assert result.exit_code == 1, result.output
    tests = sorted(out.glob("test_*.py"))
    assert tests
    for test in tests:
        source = test.read_text()
        tree = ast.parse(source)
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        assert any(text in s for s in strings), source  # the text is there whole, as one string literal
    run = pytest_in(out)
    assert run.returncode == 1 and f"{len(tests)} failed" in run.stdout, run.stdout + run.stderr
    assert not marker.exists()


def _full_disk_under(folder, allowed: int):
    """os.write as on a disk that fills after ``allowed`` bytes of files under ``folder``: a short write, then
    ENOSPC (the checker's pipes and every other file are written as usual)."""
    real_write, folder, written = os.write, os.path.realpath(folder), [0]

    def write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if not target.startswith(folder + os.sep):
            return real_write(fd, data)
        room = allowed - written[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real_write(fd, bytes(data[:room]))
        written[0] += n
        return n

    return write


def _content(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="tells files by /proc/self/fd")
@pytest.mark.parametrize("allowed", [0, 2000, 12000])
def test_a_full_disk_leaves_the_repro_folder_as_it_was(tmp_path, monkeypatch, allowed):
    buggy = tmp_path / "buggy_conv.py"
    buggy.write_text(BUGGY_BIAS)
    fresh, earlier = tmp_path / "fresh", tmp_path / "earlier"
    assert check_repro(f"{buggy}:MyConv2d", earlier).exit_code == 1
    (earlier / "notes.txt").write_text("the student's own file")
    before = _content(earlier)
    buggy.write_text(BUGGY_BIAS + "\n# edited since\n")
    monkeypatch.setattr(os, "write", _full_disk_under(tmp_path, allowed))
    for out in (fresh, earlier):
        result = check_repro(f"{buggy}:MyConv2d", out)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [f"error: {out}: the repro files could not be written (No space left "
                                              f"on device); nothing there was changed"]
    assert not fresh.exists()
    assert _content(earlier) == before  # not one file new, gone or half-written; no scratch folder left
