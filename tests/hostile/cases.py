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
    case("golden_overwrite_cwd.py", GOLDEN_CHANGED, modes=ALL_MODES,
         why="writes garbage into the golden files (relative paths) at import"),
    case("golden_overwrite_abs.py", GOLDEN_CHANGED, modes=ALL_MODES,
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
    case("close_reply_pipe.py", r"(no answer|pipe|killed|exited)[^\n]*during forward", modes=("snapshot",),
         why="end-of-file on the reply pipe while the worker is still alive"),
    case("partial_reply_hang.py", NO_ANSWER_FORWARD, modes=("snapshot",),
         why="a reply header promising 1 GB, then silence: the read itself must time out"),
    case("kill_parent.py", r"may not signal other processes", modes=("snapshot",),
         why="SIGKILL to the checker: the worker's audit hook refuses os.kill of any other process"),
    case("stop_parent.py", r"may not signal other processes", modes=("snapshot",),
         why="SIGSTOP to the checker: refused like any signal to another process"),
]

CASE_BY_FILE = {c["file"]: c for c in CASES}
assert len(CASE_BY_FILE) == len(CASES), "a file is listed twice"
