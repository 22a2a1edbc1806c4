"""The hostile-layer zoo's manifest: what each file in this folder does to the checker and what the checker must say.

Importing this module runs no hostile code: it only lists file names and expectations (the layer files are only
ever imported by the checker's worker, through ``lenet-parity check relu --impl tests/hostile/FILE:Layer``).

Each case is a dict:
  file     the layer file in this folder (class ``cls``, default ``Layer``)
  expect   a regex that stdout + stderr of the check must contain: the reason, in words
  exit     the expected exit code: 1 (the layer failed), 2 (bad input: the module cannot be imported)
  modes    the check modes to run it in (train runs with --dtype float64)
  args     extra command-line arguments (e.g. --memory-limit 1)
  leftover command lines (pgrep -f patterns) of processes the layer starts that must not outlive the run
  one_line for exit 2: stderr is one line that names the file

Every run must also: end within --timeout + 25 s, leave no process behind, and leave phase0/_reference.json and
weights/lenet_seed42.json byte-identical. The regexes are a first guess from the wording in harness/isolation.py
and harness/worker_main.py; adjust them when a better wording lands.
"""

from __future__ import annotations

TIMEOUT = 5  # --timeout for every run, seconds
SLACK = 25  # a run may take at most TIMEOUT + SLACK seconds of wall time

ALL_MODES = ("snapshot", "state", "hybrid", "sweep", "train")
VALUE_MODES = ("snapshot", "hybrid", "sweep", "train")  # a layer that is only wrong: the state mode compares no values
FAST_MODES = ("snapshot", "hybrid")  # snapshot: the layer alone; hybrid: swapped into torch's LeNet
IMPORT_MODES = ("snapshot",)  # the import fails before any mode runs: one mode is enough

# a wrong backward: grad_input mismatches (train mode sees it later, as a loss or parameter that drifts)
WRONG_GRAD = r"(grad_input \[[^\]]*\]|\[train, [^\]]*\]): \d+/\d+ mismatched"
WRONG_OUTPUT = r"output \[[^\]]*\]: \d+/\d+ mismatched"  # a wrong forward
GOLDEN_CHANGED = r"changed on disk during the run"  # the golden-file watch names the tampering
NO_ANSWER_FORWARD = rf"no answer after {TIMEOUT} s during forward"
NO_ANSWER_BACKWARD = rf"no answer after {TIMEOUT} s during backward"


def case(file: str, expect: str, *, exit: int = 1, modes: tuple[str, ...] = ALL_MODES, args: tuple[str, ...] = (),
         leftover: tuple[str, ...] = (), cls: str = "Layer", why: str = "") -> dict:
    return {"file": file, "cls": cls, "expect": expect, "exit": exit, "modes": tuple(modes), "args": tuple(args),
            "leftover": tuple(leftover), "one_line": exit == 2, "why": why}


CASES: list[dict] = [
    # --- the brief's list -------------------------------------------------------------------------------------
    case("exit_forward.py", r"called exit\(0\)[^\n]*in forward"),
    case("exit_backward.py", r"called exit\(0\)[^\n]*in backward"),
    case("os_exit_forward.py", r"exited with code 0 during forward"),
    case("os_exit_backward.py", r"exited with code 0 during backward"),
    case("os_exit_import.py", r"os_exit_import\.py[^\n]*exited with code 0 during import", exit=2, modes=IMPORT_MODES),
    case("atexit_os_exit.py", WRONG_GRAD, modes=VALUE_MODES),
    case("grads_setter_exit.py", rf"exited with code 0 during setting \.grads|{WRONG_GRAD}", modes=VALUE_MODES,
         why="exits when the harness sets .grads after backward: a failure with the reason, never a traceback"),
    case("thread_os_exit.py", rf"exited with code 0 during|{WRONG_GRAD}",
         why="the death may come after the last call; then only the wrong backward is seen", modes=VALUE_MODES),
    case("busy_loop_forward.py", NO_ANSWER_FORWARD),
    case("sleep_backward.py", NO_ANSWER_BACKWARD),
    case("sigterm_ignored_hang.py", NO_ANSWER_FORWARD, modes=ALL_MODES),
    case("segfault_forward.py", r"killed by SIGSEGV during forward"),
    case("memory_hog.py", r"memory limit 1 GiB", modes=ALL_MODES, args=("--memory-limit", "1")),
    case("memory_numpy_huge.py", r"memory limit 4 GiB", modes=ALL_MODES),
    case("numpy_monkeypatch.py", WRONG_GRAD, modes=VALUE_MODES),
    case("golden_overwrite_cwd.py", rf"{WRONG_OUTPUT}|{WRONG_GRAD}", modes=VALUE_MODES,
         why="writes garbage into the golden files (relative paths) at import"),
    case("golden_overwrite_abs.py", rf"{WRONG_OUTPUT}|{WRONG_GRAD}", modes=VALUE_MODES,
         why="writes garbage into the golden files (absolute paths from __file__) at import and in forward"),
    case("import_torch.py", r"imports torch: not allowed", exit=2, modes=IMPORT_MODES),
    case("meta_path_pop_torch.py", r"imports? torch[^\n]*not allowed", modes=ALL_MODES),
    case("torch_hidden.py", r"imports? torch[^\n]*not allowed", modes=ALL_MODES,
         why="imports torch past the blocker, then deletes it from sys.modules and restores the blocker"),
    case("nan_forward.py", r"NaN or Inf where torch is finite|NaN/Inf values", modes=VALUE_MODES),
    case("nondaemon_thread.py", WRONG_GRAD, modes=VALUE_MODES),
    case("backward_generator.py", r"backward[^\n]*generator[^\n]*not an array of numbers|backward[^\n]*not an array of "
                                      r"numbers[^\n]*generator"),  # the reason names what came back
    case("backward_dict.py", r"backward(\(\) returned|'s dx is) a dict[^\n]*not an array of numbers", modes=ALL_MODES),
    case("spawn_child_hang.py", r"may not start processes", modes=ALL_MODES, leftover=("sleep 1000",)),
    case("spawn_escaped_child.py", r"may not start processes", modes=ALL_MODES, leftover=("sleep 1001",),
         why="the child leaves the worker's process group (start_new_session=True)"),
    case("syntax_error.py", r"syntax_error\.py[^\n]*SyntaxError", exit=2, modes=IMPORT_MODES),
    # --- more ---------------------------------------------------------------------------------------------------
    case("print_flood_exit.py", r"exited with code 3 during forward", modes=FAST_MODES),
    case("keyboard_interrupt.py", r"KeyboardInterrupt[^\n]*in forward", modes=FAST_MODES),
    case("object_array.py", r"forward[^\n]*dtype object[^\n]*not an array of numbers|forward[^\n]*not an array of "
                             r"numbers[^\n]*dtype object", modes=FAST_MODES),
    case("del_os_exit.py", rf"exited with code 0 during|{WRONG_GRAD}", modes=FAST_MODES),
    case("self_ref_reply.py", NO_ANSWER_FORWARD, modes=("snapshot",),
         why="the reply encoder walks [l, l] 2**64 times: the timeout must end it"),
    case("lift_memory_limit.py", r"memory limit", modes=("snapshot",), args=("--memory-limit", "1"),
         why="as root the worker may raise its own RLIMIT_AS back to unlimited"),
    case("evil_exception_str.py", r"(exited with code 1|raised EvilError)[^\n]*during forward|raised EvilError",
         modes=("snapshot",)),
    case("forged_reply.py", r"(unreadable reply|announced a \d+-byte reply) during forward", modes=("snapshot",)),
    case("steal_reply_byte.py", NO_ANSWER_FORWARD, modes=("snapshot",),
         why="takes back a byte of its reply after the checker's select saw it: a blocking read would hang forever"),
    case("memo_dag_reply.py", r"reuses its own parts", modes=("snapshot",),
         why="a 209-byte reply whose lists share their parts through the pickle memo: an exponential decode"),
    case("oversized_pickle.py", r"announced a \d+-byte reply during forward", modes=("snapshot",),
         why="announces a 2 GiB pickle and sends it: refused by its prefix, before anything is allocated"),
    case("aliased_buffer_reply.py", r"two arrays over one buffer", modes=("snapshot",),
         why="a forged reply whose output and argument are one buffer"),
    case("close_reply_pipe.py", r"(no answer|pipe|killed|exited)[^\n]*during forward", modes=("snapshot",),
         why="end-of-file on the reply pipe while the worker is still alive"),
    case("partial_reply_hang.py", NO_ANSWER_FORWARD, modes=("snapshot",),
         why="a reply header promising 1 GB, then silence: the read itself must time out"),
    case("kill_parent.py", r"may not signal other processes", modes=("snapshot",),
         why="SIGKILL to the checker: the worker's audit hook refuses os.kill of any other process"),
    case("stop_parent.py", r"may not signal other processes", modes=("snapshot",),
         why="SIGSTOP to the checker: refused like any signal to another process"),
]

# run only where the sandbox stands: without it they damage the installation (see the list above)
SANDBOX_ONLY = ("edit_harness_report.py", "pth_persist.py", "forge_phase0.py", "golden_dir.py", "golden_symlink.py",
                "spawning_daemon.py", "ctypes_fork.py")

CASE_BY_FILE = {c["file"]: c for c in CASES}
assert len(CASE_BY_FILE) == len(CASES), "a file is listed twice"


# --- issue 20: attacks on the boundary ---------------------------------------------------------------------------
# Layers written by a student who wants a WRONG layer to pass (issue 20's ten categories). Each file's docstring says
# the attack and what a fixed harness must do. The regexes below are the reasons a FIXED harness (bubblewrap around
# the worker, judgments in the checker) should print; "# wording to confirm" marks guesses at words not yet written
# (all 24 runs below matched a copy of the work tree taken while that fix was being written, bubblewrap active).
# Several of these damage the installation when run against a harness WITHOUT the sandbox (before issue 20's fix):
#   edit_harness_report  appends to harness/report.py (the payload removes itself when the checker imports it; it
#                        stays if the checker dies before printing its report)
#   pth_persist          leaves <site-packages>/lenet_parity_hostile_persist.pth (harmless line: rm it)
#   forge_phase0         re-sealed Phase 0 (holds HOSTILE-GARBAGE: the test puts the file back)
#   golden_dir           Phase 0 becomes a directory holding the original (see its docstring to repair)
#   golden_symlink       Phase 0 becomes a symlink to an identical copy in /tmp (see its docstring to repair)
#   spawning_daemon, ctypes_fork  a process that writes a /tmp/lenet_parity_hostile_* marker file 8 s after the run
# the worker's write refused (EROFS; EACCES where the user namespace maps the file's owner away): the layer raises it
READ_ONLY = r"Read-only file system|Permission denied"
CLEAN_STDOUT = r"(?m)\A(?![\s\S]*^HOSTILE-STD(OUT|ERR)-GARBAGE)"  # no garbage at a line start (shown output: "  | ")

CASES += [
    # 1. the layer edits the harness's own files
    case("edit_harness_report.py", READ_ONLY, modes=("snapshot",),
         why="appends a payload to the installed harness/report.py that forces PASS and restores the file"),
    case("pth_persist.py", READ_ONLY, modes=("snapshot",),
         why="plants a .pth file in the venv's site-packages (it would run in every later interpreter)"),
    # 2. the checker trusts a comparison done inside the worker
    case("rebind_unchanged.py", r"forward changed its input in place", modes=("state",),
         why="an in-place ReLU that replaces the worker's __main__._unchanged by lambda *a: True"),
    # 3. the guards are Python globals the layer can rebind
    case("rebind_forbidden_torch.py",  # wording to confirm
         r"rebind_forbidden_torch\.py[^\n]*(torch[^\n]*not allowed|No module named 'torch'|module 'torch' has no "
         r"attribute|cannot import name)", exit=2, modes=IMPORT_MODES,
         why="__main__.FORBIDDEN = () and the Forbidden finder removed, then import torch: torch's exact answers"),
    case("spawning_daemon.py", rf"{WRONG_GRAD}|may not start processes", modes=("snapshot",),
         leftover=("lenet_parity_hostile_daemon",),
         why="__main__._SPAWNING = () then a detached daemon (new session) that outlives the run and writes a file"),
    case("ctypes_fork.py", WRONG_GRAD, modes=("snapshot",), leftover=("ctypes_fork.py",),
         why="libc fork() through ctypes (no audit event), setsid() in the child, a file written 8 s after the run"),
    # 4. the seal can be forged
    case("forge_phase0.py", rf"{READ_ONLY}|not the file this lenet-parity shipped", modes=("snapshot",),
         why="rewrites Phase 0's ReLU records to its wrong answers and re-seals them (content_sha256)"),
    # 5. hangs past --timeout
    case("sigstop_parent_ctypes.py",  # wording to confirm
         rf"{WRONG_OUTPUT}|{NO_ANSWER_FORWARD}|may not signal other processes", modes=("snapshot",),
         why="ctypes libc kill(getppid(), SIGSTOP): no audit event; in a PID namespace the checker is out of reach"),
    case("getpid_rebind_kill.py",  # wording to confirm
         rf"{WRONG_OUTPUT}|{NO_ANSWER_FORWARD}|may not signal other processes", modes=("snapshot",),
         why="os.getpid rebound to the parent's pid, so the guard's 'only yourself' lets os.kill(ppid, SIGSTOP) by"),
    case("stop_reading.py",  # wording to confirm
         rf"after {TIMEOUT} s during|\(--timeout\)|(malformed|unreadable) reply", modes=("snapshot",),
         why="answers early through the reply pipe, then stops reading: the checker's >64 KiB request write blocks"),
    # 6. tracebacks instead of a failed layer
    case("overflow_return.py",  # wording to confirm
         r"output[^\n]*(OverflowError|too large|not an array of numbers)", modes=("snapshot",),
         why="forward returns [10**400]: an int no float or int64 holds"),
    case("raising_params_property.py", rf"hostile params property|{WRONG_GRAD}", modes=FAST_MODES,
         why="params is a property that raises RuntimeError (ReLU: nothing reads it today; a guard for later)"),
    case("raising_grads_property.py", rf"hostile grads property|{WRONG_GRAD}", modes=FAST_MODES,
         why="grads is a property that raises on read and write (hybrid sets it after backward)"),
    case("metaclass_signature.py", rf"hostile __signature__|{WRONG_GRAD}", modes=("snapshot", "sweep"),
         why="inspect.signature(Layer) raises RuntimeError (a metaclass __signature__ property)"),
    case("backward_property_sleeps.py", rf"no answer after {TIMEOUT} s during (reading \.)?backward",
         modes=("snapshot",), why="backward is a property that sleeps 30 s: even hasattr(layer, 'backward') hangs"),
    case("golden_dir.py", READ_ONLY, modes=("snapshot",),
         why="replaces Phase 0 by a directory (the original moved inside it)"),
    case("golden_symlink.py", READ_ONLY, modes=("snapshot",),
         why="replaces Phase 0 by a symlink to an identical copy in /tmp (same bytes: today's watch never notices)"),
    # 7. leaks
    {**case("env_secret.py",
            r"raised RuntimeError[^\n]*leaked: SECRET_TOKEN=None PYTEST_CURRENT_TEST=None", modes=("snapshot",),
            why="its error message carries $SECRET_TOKEN and $PYTEST_CURRENT_TEST: a cleared environment shows None"),
     "env": {"SECRET_TOKEN": "leaked-secret-123"}},  # set in the checker's environment for this case
    case("proc_parent_stdout.py", CLEAN_STDOUT + r"[\s\S]*mismatched", modes=("snapshot",), args=("--json", "-"),
         why="writes garbage into the checker's stdout and stderr through /proc/<ppid>/fd/1 and 2"),
    # 9. testing by outputs alone
    case("batch64_only.py", WRONG_OUTPUT, modes=("sweep",),
         why="a ReLU wrong only for a batch of 64 (the README's training batch): the sweep must include it"),
    # 10. a layer that prints
    case("print_flood.py", r"hostile flood line \d{6}", modes=("snapshot",),  # the report shows part of the output
         why="prints 120 MB in forward without exiting; the report must show its first and last lines"),
]

# run only where the sandbox stands: without it they damage the installation (see the list above)
SANDBOX_ONLY = ("edit_harness_report.py", "pth_persist.py", "forge_phase0.py", "golden_dir.py", "golden_symlink.py",
                "spawning_daemon.py", "ctypes_fork.py")

CASE_BY_FILE = {c["file"]: c for c in CASES}
assert len(CASE_BY_FILE) == len(CASES), "a file is listed twice"
