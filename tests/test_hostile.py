"""The hostile-layer zoo (tests/hostile/): layers that exit, crash, hang, hog memory, import torch, spawn processes,
signal the checker or vandalise the golden files. Each runs through the real CLI in a subprocess
(``lenet-parity check relu --impl tests/hostile/FILE:Layer --mode MODE --timeout 5``), as a user would, and must:

- exit with the manifest's code (1: the layer failed; 2: bad input, for modules that cannot be imported),
- say why, in words (the manifest's regex, in stdout + stderr), in a report: never a Python traceback,
- end within --timeout + 25 s (a hard kill after 5 s more, so a hung checker fails the test instead of hanging it),
- leave no process behind (every process of the run carries an environment marker; /proc is searched for it),
- leave phase0/_reference.json and weights/lenet_seed42.json byte-identical (if a hostile layer's garbage is found
  in them it is put back at once, and the test fails).

Set HOSTILE_REPORT=/path/to/file.jsonl to append one JSON line per run (exit code, reason line, seconds, problems).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import PHASE0, ROOT, WEIGHTS
from lenet_parity.harness.sandbox import PASS_ENV, probe

HOSTILE = ROOT / "tests" / "hostile"
CLI = Path(sys.executable).with_name("lenet-parity")
MARKER_VAR = "LENET_PARITY_HOSTILE_RUN"
GARBAGE = b"HOSTILE-GARBAGE"  # what the vandal layers write: a rewrite without it is someone else's


def _manifest():
    spec = importlib.util.spec_from_file_location("_hostile_cases", HOSTILE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # plain data: no hostile file is imported here
    return module


# Measured on a 2-core machine: 87 runs, 5 min 7 s (about 3.5 min once no run hangs to the hard limit): slow.
pytestmark = pytest.mark.slow

MANIFEST = _manifest()
TIMEOUT, SLACK = MANIFEST.TIMEOUT, MANIFEST.SLACK
HARD_LIMIT = TIMEOUT + SLACK + 5  # then the checker is killed (and the test fails on time)

PARAMS = [pytest.param(case, mode, id=f"{Path(case['file']).stem}-{mode}")
          for case in MANIFEST.CASES for mode in case["modes"]]


def _marked_processes(marker: str) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process whose environment holds this run's marker."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found


def _pgrep(pattern: str) -> set[int]:
    done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return {int(p) for p in done.stdout.split()}


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _restore_golden(path: Path, good: bytes) -> str | None:
    """None when ``path`` still holds ``good``; else what happened to it (and the good bytes are put back when the
    change is the hostile layer's garbage, or the file is gone or empty)."""
    try:
        now = path.read_bytes()
    except FileNotFoundError:
        now = None
    if now == good:
        return None
    if now is None or not now or GARBAGE in now[:4096]:
        tmp = path.with_name(f".{path.name}.hostile-restore")
        tmp.write_bytes(good)
        os.replace(tmp, path)
        return f"{path.relative_to(ROOT)} was {'deleted' if now is None else 'overwritten'} by the layer (restored)"
    return (f"{path.relative_to(ROOT)} changed during the run, not with the layer's garbage (another process "
            f"rewrote it?); left as is")


def _reason_line(output: str, expect: str) -> str:
    """The line that gives the verdict's reason: the one the manifest expects, else the first failure or error."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in (expect, r"^first failure:", r"^error:", r"^FAIL "):
        for line in lines:
            if re.search(pattern, line):
                return line[:400]
    return lines[-1][:400] if lines else ""


def _record(entry: dict) -> None:
    path = os.environ.get("HOSTILE_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


@pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not installed (pip install -e .)")
@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_hostile_layer_fails_cleanly(case, mode):
    if case["file"] in MANIFEST.SANDBOX_ONLY and not probe().active:
        pytest.skip(f"{case['file']} damages the installation where there is no sandbox ({probe().describe()})")
    golden = {path: path.read_bytes() for path in (PHASE0, WEIGHTS)}
    marker = uuid.uuid4().hex
    env = {**os.environ, **case.get("env", {}), MARKER_VAR: marker,
           PASS_ENV: MARKER_VAR}  # the sandbox passes the marker to the worker
    command = [str(CLI), "check", "relu", "--impl", f"tests/hostile/{case['file']}:{case['cls']}", "--mode", mode,
               "--timeout", str(TIMEOUT), "--phase0", str(PHASE0), "--weights", str(WEIGHTS), *case["args"]]
    if mode == "train":
        command += ["--dtype", "float64", "--data-root", str(ROOT / "data")]
    before = {pattern: _pgrep(pattern) for pattern in case["leftover"]}
    problems: list[str] = []
    stdout = stderr = ""
    code = None
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        try:
            stdout, stderr = proc.communicate(timeout=HARD_LIMIT)
        except subprocess.TimeoutExpired:
            problems.append(f"still running after {HARD_LIMIT} s: killed")
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                stdout, stderr = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                problems.append("its output pipes stayed open after the kill")
        code = proc.returncode
        seconds = time.monotonic() - start
    finally:
        if proc.poll() is None:
            _kill(proc.pid)
            proc.wait()
        for path, good in golden.items():  # first: other tests may read them
            damage = _restore_golden(path, good)
            if damage:
                problems.append(damage)
        deadline = time.monotonic() + 1.0  # a process killed a moment ago may still be on its way out
        left = _marked_processes(marker)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = _marked_processes(marker)
        for pid in left:
            _kill(pid)
        if left:
            problems.append("processes left behind (killed now): "
                            + "; ".join(f"{pid} {cmd[:120]}" for pid, cmd in sorted(left.items())))
        for pattern, old in before.items():
            new = _pgrep(pattern) - old - set(left)
            if new:
                problems.append(f"new processes matching {pattern!r} after the run (not killed: no marker): "
                                f"{sorted(new)}")

    output = f"{stdout}\n{stderr}"
    if code != case["exit"]:
        problems.append(f"exit code {code}, expected {case['exit']}")
    ours = "\n".join(line for line in output.splitlines() if not line.startswith("  | "))  # "  | ": what it printed
    if "Traceback (most recent call last)" in ours:
        last = [line for line in stderr.splitlines() if line.strip()][-1:] or [""]
        problems.append(f"a Python traceback instead of a report (uncaught: {last[0].strip()[:200]})")
    if not re.search(case["expect"], output):
        problems.append(f"output lacks /{case['expect']}/")
    if seconds >= TIMEOUT + SLACK:
        problems.append(f"took {seconds:.1f} s (limit {TIMEOUT + SLACK} s)")
    if case["one_line"] and code == 2:
        err_lines = [line for line in stderr.splitlines() if line.strip()]
        if len(err_lines) != 1 or case["file"] not in err_lines[0]:
            problems.append(f"stderr is not one line naming {case['file']}: {err_lines[:5]!r}")
    reason = _reason_line(output, case["expect"])
    _record({"file": case["file"], "mode": mode, "exit": code, "seconds": round(seconds, 1), "reason": reason,
             "passed": not problems, "problems": problems})
    assert not problems, (f"{case['file']} --mode {mode}: " + "; ".join(problems)
                          + f"\n--- reason line: {reason}\n--- stdout (tail):\n{stdout[-2000:]}"
                          + f"\n--- stderr (tail):\n{stderr[-2000:]}")


@pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not installed (pip install -e .)")
def test_a_layer_that_runs_out_of_memory_twice_is_stopped():
    """Each MemoryError costs the time to fill the limit: after the second, the remaining cases are not run."""
    done = subprocess.run([str(CLI), "check", "relu", "--impl", f"{HOSTILE / 'memory_hog.py'}:Layer", "--mode", "state",
                           "--memory-limit", "1", "-v", "--phase0", str(PHASE0), "--weights", str(WEIGHTS)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    rows = [line for line in done.stdout.splitlines() if line.startswith("FAIL relu")]
    assert sum("raised MemoryError" in line for line in rows) == 2
    assert "it ran out of memory twice (memory limit 1 GiB)" in rows[-1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status waits to be read


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (under bubblewrap the layer's interpreter is a grandchild or deeper)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().split(")")[-1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        todo += children
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_layer_process_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """Ray or the OOM killer may kill a grading process without cleanup: its layer's process, busy in the user's
    code (here: a loop at import), must not live on."""
    (tmp_path / "spins.py").write_text("while True:\n    pass\n")
    script = (f"from lenet_parity.harness.isolation import IsolatedFactory\n"
              f"IsolatedFactory({str(tmp_path / 'spins.py')!r}, timeout=120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while len(workers := _descendants(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers and all(_alive(w) for w in workers)
        time.sleep(1)  # it is spinning in the user's module now
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        parent.kill()
