"""The worker's boundary (harness/sandbox.py, harness/isolation.py): what a layer's process can and cannot do, seen
from inside it. Each probe layer records what it tried in plain attributes the checker reads back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import PHASE0, ROOT, WEIGHTS, ctrl_c_reaches_it
from lenet_parity.errors import UserInputError
from lenet_parity.harness.isolation import IsolatedFactory, WorkerError
from lenet_parity.harness.sandbox import ALLOWED_ENV, probe
from lenet_parity.reference.layers import LayerSpec

CLI = Path(sys.executable).with_name("lenet-parity")
RELU = LayerSpec("relu1", "relu", "ReLU", {})

pytestmark = pytest.mark.skipif(not Path("/proc/self/ns/user").exists(), reason="Linux namespaces only")


def _layer_file(tmp_path: Path, body: str, name: str = "probe.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return f"{path}:Layer"


PROBE = '''
import os, socket, importlib.util

def attempt(action):
    try:
        action()
        return "done"
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"

def write(path):
    with open(path, "a") as handle:
        handle.write("")

HARNESS_FILE = importlib.util.find_spec("lenet_parity.harness.report").origin


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params, self.grads = {}, {}
        here = os.path.dirname(os.path.abspath(__file__))
        self.write_harness = attempt(lambda: write(HARNESS_FILE))
        self.write_beside = attempt(lambda: write(os.path.join(here, "planted.txt")))
        self.write_tmp = attempt(lambda: write("/tmp/lenet-parity-sandbox-probe.txt"))
        self.write_scratch = attempt(lambda: write("scratch.txt"))
        self.connect = attempt(lambda: socket.create_connection(("192.0.2.1", 80), timeout=1))
        self.environment = sorted(os.environ)
        self.parent = os.getppid()
        self.pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        self.cwd = os.getcwd()

    def forward(self, x):
        return x * (x > 0)

    def backward(self, dy):
        return dy
'''


CORRECT_RELU = """
import numpy as np


class ReLU:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask
"""


def test_the_sandbox_starts_here():
    """These machines have unprivileged user namespaces: a check must run sandboxed (else the rest is moot)."""
    assert probe().active, probe().describe()


def test_inside_the_file_system_is_read_only_but_the_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "leaked-secret-123")
    with IsolatedFactory(_layer_file(tmp_path, PROBE)) as factory:
        layer = factory(RELU)
        for attempt in (layer.write_harness, layer.write_beside, layer.write_tmp):
            assert "Read-only file system" in attempt
        assert layer.write_scratch == "done"
        assert layer.connect.startswith("OSError") and "unreachable" in layer.connect
        assert set(layer.environment) <= {*ALLOWED_ENV, "HOME", "TMPDIR", "PWD", "PYTHONDONTWRITEBYTECODE",
                                          "PYTHONNOUSERSITE", "PYTHONUNBUFFERED", "LC_CTYPE"}
        assert "SECRET_TOKEN" not in layer.environment
        assert os.getpid() not in layer.pids and layer.parent != os.getpid()  # the checker does not exist there
        assert max(layer.pids) < 10  # its own PID namespace: bubblewrap's init, the worker, and little else
        scratch = layer.cwd
        assert Path(scratch, "scratch.txt").exists()  # the same folder, seen from outside
    assert not Path(scratch).exists()  # removed with the worker
    assert not (tmp_path / "planted.txt").exists()


def test_without_the_sandbox_the_environment_is_still_cleared(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "leaked-secret-123")
    with IsolatedFactory(_layer_file(tmp_path, PROBE), sandbox=False) as factory:
        assert not factory.sandbox.active and "--no-sandbox" in factory.sandbox.describe()
        layer = factory(RELU)
        assert "SECRET_TOKEN" not in layer.environment
        assert layer.write_scratch == "done"


def test_torch_cannot_be_imported_even_with_the_python_guards_removed(tmp_path):
    body = '''
    import sys
    main = sys.modules["__main__"]
    main.FORBIDDEN = ()
    sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
    try:
        import torch
        found = repr(getattr(torch, "relu", None))
    except BaseException as exc:
        found = f"{type(exc).__name__}: {exc}"

    class Layer:
        array_kind = "numpy"
        torch_found = found

        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, x):
            return x

        def backward(self, dy):
            return dy
    '''
    with IsolatedFactory(_layer_file(tmp_path, body)) as factory:
        assert factory(RELU).torch_found == "None"  # an empty read-only folder where torch was


def test_a_worker_that_stops_reading_its_requests_is_a_timeout_not_a_hang(tmp_path):
    """The layer answers forward early through the reply pipe (a forged "ok"), then sleeps: the checker's next
    request, 2.4 MB of dy (more than the 1 MiB pipe holds), cannot be written. The write has the call's deadline."""
    body = '''
    import sys, time

    class Layer:
        array_kind = "numpy"

        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, x):
            worker = sys.modules["__main__"]  # its message format (harness/wire.py), as the worker sends it
            worker.send(int(sys.argv[2]), worker.pack(("ok", {"result": None, "args": [None]})))
            time.sleep(60)

        def backward(self, dy):
            return dy
    '''
    with IsolatedFactory(_layer_file(tmp_path, body), timeout=2) as factory:
        layer = factory(RELU)
        layer.forward(np.zeros(4))
        start = time.monotonic()
        with pytest.raises(WorkerError, match="no answer after 2 s during backward"):
            layer._request("call", "backward", (np.zeros((64, 6, 28, 28)),), during="backward")
        assert time.monotonic() - start < 2 + 3
        assert factory.worker.proc is None  # killed


def test_what_a_layer_prints_is_kept_in_part_and_counted(tmp_path):
    body = '''
    import sys

    class Layer:
        array_kind = "numpy"

        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, x):
            print("first line of the flood")
            for i in range(200_000):
                print(f"line {i:07d} " + "x" * 40)
            print("last words", file=sys.stderr)
            return x

        def backward(self, dy):
            return dy
    '''
    with IsolatedFactory(_layer_file(tmp_path, body)) as factory:
        factory(RELU).forward(np.zeros(3))
        deadline = time.monotonic() + 10
        while factory.output.total < 200_000 * 53 and time.monotonic() < deadline:
            time.sleep(0.05)
        text = factory.output.text()
    assert factory.output.total > 200_000 * 53
    assert text.startswith("first line of the flood") and text.endswith("last words")
    assert "bytes not kept" in text and len(text) < 3 * factory.output.keep


def test_in_place_changes_are_judged_by_the_checker_not_the_worker(tmp_path):
    """The layer rebinds the worker's helpers and changes x in place: the checker still sees it."""
    body = '''
    import sys
    main = sys.modules["__main__"]
    for name in ("_unchanged", "unchanged", "changed", "_guard"):
        setattr(main, name, lambda *a, **k: True)  # whatever the worker might have judged with

    class Layer:
        array_kind = "numpy"

        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, x):
            x[x < 0] = 0
            return x

        def backward(self, dy):
            return dy
    '''
    with IsolatedFactory(_layer_file(tmp_path, body)) as factory:
        x = np.array([-1.0, 2.0])
        factory(RELU).forward(x)
    assert x.tolist() == [0.0, 2.0]


def test_without_user_namespaces_check_runs_and_says_so_and_grade_refuses(tmp_path):
    """Simulated: the bwrap binary is one that cannot start anything (as on a machine without user namespaces)."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "LENET_PARITY_BWRAP": str(fake)}
    relu = tmp_path / "relu.py"
    relu.write_text(CORRECT_RELU)
    done = subprocess.run([str(CLI), "check", "relu", "--impl", f"{relu}:ReLU",
                           "--mode", "snapshot", "--json", str(tmp_path / "run.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not sandboxed: bubblewrap cannot start here (bwrap: No permissions to create new namespace)" in done.stdout
    assert json.loads((tmp_path / "run.json").read_text())["sandbox"].startswith("not sandboxed")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "amy.py").write_text(CORRECT_RELU)
    done = subprocess.run([str(CLI), "grade", str(tmp_path / "class"), "--out", str(tmp_path / "grades")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "--no-sandbox" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "grades").exists()


def _wait_for_numpy(pid: int, limit: float = 60.0) -> None:
    """Until the process has loaded NumPy's core: the CLI is then running its command's imports (CPython's own
    start-up, where a Ctrl-C is CPython's "Fatal Python error", is long over). Timing-free, so load-free."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text():
                return
        except OSError:
            return
        time.sleep(0.005)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3])
def test_ctrl_c_while_the_cli_imports_is_exit_130_without_a_traceback(delay):
    proc = subprocess.Popen([str(CLI), "check", "relu", "--mode", "snapshot"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_reaches_it)
    _wait_for_numpy(proc.pid)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    finished = "PASS" in out  # it finished first: exit 0, or -SIGINT when the signal came during Python's shutdown
    assert proc.returncode == 130 or (finished and proc.returncode in (0, -signal.SIGINT)), (proc.returncode, err)
    assert "Traceback" not in err


def test_ctrl_c_while_the_cli_module_itself_is_imported_is_exit_130_and_one_line():
    """The window before the CLI's own handler exists (lenet_parity/entry.py), made deterministic: the import of
    harness/cli.py raises KeyboardInterrupt."""
    script = ("import builtins\nreal = builtins.__import__\n"
              "def interrupted(name, *args, **kwargs):\n"
              "    if name == 'lenet_parity.harness.cli':\n        raise KeyboardInterrupt\n"
              "    return real(name, *args, **kwargs)\n"
              "builtins.__import__ = interrupted\nfrom lenet_parity.entry import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["interrupted (while starting): nothing was done"]


def test_a_golden_file_changed_during_the_run_is_not_read_again(tmp_path):
    from lenet_parity.golden_pins import pinned
    from lenet_parity.reference.phase0_format import load_phase0

    copy = tmp_path / "_reference.json"
    copy.write_bytes(PHASE0.read_bytes())
    with pinned(copy):
        copy.write_text("{}")
        assert load_phase0(copy).meta == load_phase0(PHASE0).meta
    with pytest.raises(UserInputError):
        load_phase0(copy)


def test_a_resealed_edit_at_a_shipped_place_is_not_the_file_shipped(tmp_path, monkeypatch):
    from conftest import resealed
    from lenet_parity import golden_pins
    from lenet_parity.reference.phase0_format import load_phase0

    forged = tmp_path / "_reference.json"
    forged.write_text(resealed(PHASE0.read_text().replace('"targets": [7,2,1,0]', '"targets": [7,2,1,1]', 1)))
    load_phase0(forged)  # elsewhere, a user's own file: its seal is all there is
    monkeypatch.setattr(golden_pins, "shipped_places", lambda: {str(forged): "_reference.json"})
    with pytest.raises(UserInputError, match="not the file this lenet-parity shipped"):
        load_phase0(forged)
    link = tmp_path / "link.json"
    link.symlink_to(PHASE0)
    monkeypatch.setattr(golden_pins, "shipped_places", lambda: {str(link): "_reference.json"})
    with pytest.raises(UserInputError, match="symbolic link in the place of a shipped golden file"):
        load_phase0(link)


def test_a_directory_in_a_golden_files_place_is_one_line_and_nothing_is_lost(tmp_path):
    (tmp_path / "_reference.json").mkdir()
    (tmp_path / "_reference.json" / "keep.txt").write_text("mine")
    done = subprocess.run([str(CLI), "check", "relu", "--mode", "snapshot", "--phase0",
                           str(tmp_path / "_reference.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "_reference.json" in done.stderr
    assert (tmp_path / "_reference.json" / "keep.txt").read_text() == "mine"


def test_the_shipped_seals_are_the_shipped_files():
    from lenet_parity.golden_digests import SHIPPED

    for path in (PHASE0, WEIGHTS, PHASE0.with_name("_train_batches.json")):
        assert json.loads(path.read_text())["content_sha256"] == SHIPPED[path.name]


VANDAL = '''
import os
import numpy as np

TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_reference.json")
try:
    with open(TARGET, "w") as handle:
        handle.write("HOSTILE-GARBAGE")
except OSError as exc:
    refused = str(exc)


class ReLU:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x
        return np.abs(x)  # wrong

    def backward(self, dy):
        return dy * (self.x > 0)
'''


@pytest.mark.parametrize("sandboxed", [True, False])
def test_a_layer_that_writes_a_golden_file_cannot_change_the_verdict_or_the_file(tmp_path, sandboxed):
    """Sandboxed, the write is refused; without it (the fallback), the file is put back and the run names it."""
    golden = tmp_path / "_reference.json"
    golden.write_bytes(PHASE0.read_bytes())
    (tmp_path / "vandal.py").write_text(VANDAL)
    done = subprocess.run([str(CLI), "check", "relu", "--impl", f"{tmp_path / 'vandal.py'}:ReLU", "--mode", "snapshot",
                           "--phase0", str(golden), *([] if sandboxed else ["--no-sandbox"])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert golden.read_bytes() == PHASE0.read_bytes()
    assert ("changed on disk during the run" in done.stdout + done.stderr) is not sandboxed


def test_the_api_says_where_the_layer_ran_and_what_it_printed(tmp_path):
    from lenet_parity import check_layer

    (tmp_path / "chatty.py").write_text(CORRECT_RELU.replace("        self.mask = x > 0\n",
                                                             "        print('shape', x.shape)\n"
                                                             "        self.mask = x > 0\n"))
    run = check_layer(f"{tmp_path / 'chatty.py'}:ReLU", "relu", modes=["snapshot"], dtype="float64")
    assert run.passed and run.sandbox.startswith("bubblewrap")
    assert "shape (4, 6, 24, 24)" in run.printed and run.printed_bytes == len(run.printed) + 1  # + its last newline
    document = run.to_json()
    assert document["sandbox"] == run.sandbox and document["printed"]["bytes"] == run.printed_bytes
    assert "the layer printed" in str(run)
