"""The wheel: `pip wheel` of the repository, installed into a fresh venv, works from an empty folder with a fresh HOME.

The command, the Python API, the golden files and the C example must all come from the installed package, none
from this repository: a packaging slip (a folder not mapped, a data file not globbed) fails here, not for a user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

NO_TRAIN = ["--mode", "snapshot", "--mode", "sweep", "--mode", "state", "--mode", "hybrid"]  # the quick modes
PASSED = re.compile(r"^PASS .* 0 failed", re.MULTILINE)  # the verdict line (a note: line may come first)
PYPI_FILE_LIMIT = 100 * 2**20  # PyPI's default per-file upload limit; far above the wheel unless data slipped in

MY_RELU = '''"""A user's ReLU in NumPy (torch.nn.ReLU's arguments), and the same with a classic slip."""

import numpy as np


class ReLU:
    array_kind = "numpy"

    def __init__(self, inplace=False):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        return dy * self.mask


class ReLUGradAtZero(ReLU):
    """The slip: at exactly 0 the gradient passes (torch's is 0 there)."""

    def forward(self, x):
        self.mask = x >= 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)
'''

# check_layer on the class named by argv[1] in modes argv[2:]; prints where the package came from and the verdict
CHECK_LAYER = """
import sys
import lenet_parity
from lenet_parity import check_layer
run = check_layer(sys.argv[1], "relu", modes=sys.argv[2:] or None)
print("package:", lenet_parity.__file__)
print("passed" if run.passed else f"failed: {run.first_failure.layer}.{run.first_failure.tensor} "
      f"{run.first_failure.diagnosis.code if run.first_failure.diagnosis else ''}")
sys.exit(0 if run.passed else 1)
"""


def _run(command: list, *, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _ok(done: subprocess.CompletedProcess, code: int = 0) -> str:
    """stdout + stderr of a command that exited with ``code`` (else an AssertionError showing both)."""
    output = done.stdout + done.stderr
    assert done.returncode == code, f"{done.args} exited {done.returncode}, expected {code}:\n{output[-4000:]}"
    return output


def _source_copy(dest: Path) -> list[str]:
    """The repository's files as git sees them (tracked and new, not ignored: no .venv, data/, build/, binaries)
    copied to ``dest``: the build never writes into the work tree, and reads no stale build/ of it."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    files = [f for f in listed if f and (ROOT / f).is_file()]  # a tracked file deleted in the work tree is gone
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return files


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel from a copy of the repository, install it into a fresh venv (no system site-packages);
    the commands then run from an empty folder with a fresh HOME and no data/."""
    base = tmp_path_factory.mktemp("wheel")
    src, dist, venv = base / "src", base / "dist", base / "venv"
    files = _source_copy(src)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    start = time.perf_counter()
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, src], cwd=base, env=env, timeout=600))
    build_seconds = time.perf_counter() - start
    (wheel,) = dist.glob("lenet_parity-*.whl")
    start = time.perf_counter()
    _ok(_run([sys.executable, "-m", "venv", venv], cwd=base, env=env, timeout=300))
    # pip's cache under the real HOME is reused: torch comes from it or the configured index, not rebuilt
    _ok(_run([venv / "bin" / "python", "-m", "pip", "install", wheel], cwd=base, env=env, timeout=1800))
    install_seconds = time.perf_counter() - start
    home = base / "home"
    home.mkdir()
    use_env = {k: v for k, v in env.items() if not k.startswith(("XDG_", "LENET_PARITY_"))}  # no data root
    use_env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    yield {"wheel": wheel, "files": files, "venv": venv, "bin": venv / "bin", "env": use_env,
           "build_seconds": build_seconds, "install_seconds": install_seconds}
    shutil.rmtree(venv, ignore_errors=True)  # torch and its CUDA wheels: ~5 GB per venv, kept by no one


def _use(installed, cwd: Path, *command, code: int = 0, timeout: float = 600) -> str:
    """Run a command of the installed venv (``lenet-parity``, ``python``) or any program, in ``cwd`` with the
    fresh HOME; its output, after asserting its exit code."""
    program = installed["bin"] / command[0] if (installed["bin"] / command[0]).exists() else command[0]
    return _ok(_run([program, *command[1:]], cwd=cwd, env=installed["env"], timeout=timeout), code)


def test_the_wheel_holds_the_golden_files_and_the_examples(installed, record_testsuite_property):
    wheel = installed["wheel"]
    names = set(zipfile.ZipFile(wheel).namelist())
    record_testsuite_property("wheel_bytes", wheel.stat().st_size)  # in --junitxml's report
    record_testsuite_property("wheel_build_seconds", round(installed["build_seconds"], 1))
    record_testsuite_property("wheel_install_seconds", round(installed["install_seconds"], 1))
    golden = [f for f in installed["files"] if f.endswith(".json") and f.split("/")[0] in ("phase0", "weights")
              and f.count("/") == 1]
    assert {"phase0/_reference.json", "phase0/_train_batches.json", "weights/lenet_seed42.json"} <= set(golden)
    examples = [f for f in installed["files"] if f.startswith("examples/")]
    assert "examples/any_language/main.c" in examples
    missing = [f for f in golden + examples if f"lenet_parity/{f}" not in names]
    assert not missing, f"not in the wheel (a package-data glob in pyproject.toml misses them): {missing}"
    stray = sorted(n for n in names if not n.startswith(("lenet_parity/", "lenet_parity-")))
    assert not stray, f"the wheel installs files outside the lenet_parity package: {stray}"
    assert wheel.stat().st_size < PYPI_FILE_LIMIT


def test_the_command_checks_from_an_empty_folder(installed, tmp_path):
    assert "check" in _use(installed, tmp_path, "lenet-parity", "--help")
    output = _use(installed, tmp_path, "lenet-parity", "check", "relu", timeout=900)  # every mode, train too
    assert PASSED.search(output) and "train;" in output, output  # its batches ship in phase0/_train_batches.json
    (tmp_path / "my_relu.py").write_text(MY_RELU)
    output = _use(installed, tmp_path, "lenet-parity", "check", "relu", "--impl", "my_relu.py:ReLUGradAtZero",
                  *NO_TRAIN, code=1)
    assert "FAIL" in output and "likely cause" in output and "x >= 0" in output, output
    written = {p.name for p in tmp_path.iterdir()} - {"__pycache__"}  # Python's own cache of the imported file
    assert written == {"my_relu.py"}  # no report, no data/ fetched


@pytest.mark.parametrize(("cls", "modes", "code", "verdict"), [
    ("ReLU", [], 0, "passed"),  # every mode
    ("ReLUGradAtZero", NO_TRAIN[1::2], 1, "failed: relu1.grad_input relu-at-zero"),
])
def test_check_layer_from_python(installed, tmp_path, cls, modes, code, verdict):
    (tmp_path / "my_relu.py").write_text(MY_RELU)
    output = _use(installed, tmp_path, "python", "-c", CHECK_LAYER, f"my_relu.py:{cls}", *modes, code=code,
                  timeout=900)
    assert f"package: {installed['venv']}" in output, output  # the installed copy, not this repository
    assert verdict in output, output


@pytest.mark.skipif(not (shutil.which("cc") and shutil.which("make")), reason="no C compiler or make")
def test_the_c_example_ships_and_builds(installed, tmp_path):
    shipped = Path(_use(installed, tmp_path, "lenet-parity", "cases", "example-dir").strip())
    assert shipped.is_relative_to(installed["venv"].resolve()) and (shipped / "Makefile").is_file(), shipped
    shutil.copytree(shipped, tmp_path / "port")
    _use(installed, tmp_path, "make", "-C", "port", "answer")
    _use(installed, tmp_path, "lenet-parity", "cases", "export", "relu", "dense", "--scope", "torch", "--out", "cases")
    assert ", 0 could not be answered" in _use(installed, tmp_path, "port/answer", "cases")
    output = _use(installed, tmp_path, "lenet-parity", "cases", "check", "cases", "relu", "dense", "--scope", "torch")
    assert PASSED.search(output), output
