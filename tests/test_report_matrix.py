"""--json, --junit and --repro with every check mode, alone and all together, for a passing and a failing layer.

Each run asserts the exit code (0 passed, 1 failed), that every file asked for exists and parses, that the JUnit
counts are the JSON document's, and that --repro writes a test only for the layers that failed on a case of the
layer alone with numbers (the snapshot and sweep modes'; a state check, a hybrid or train row has no such case).
One layer type (ReLU) and two SGD steps keep the whole matrix to seconds per run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import ROOT
from lenet_parity.harness.cli import main
from lenet_parity.vocabulary import MODES, SNAPSHOT, SWEEP

STUDENT = ROOT / "tests" / "student_layers" / "numpy_layers.py"
LAYER_ALONE = (SNAPSHOT, SWEEP)  # the modes whose rows hold a case of the layer alone, which a repro replays
RELUS = {"relu1", "relu2", "relu3", "relu4"}

CORRECT_RELU = '''    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        # gradient at exactly 0 is 0, like torch
        return dy * self.mask
'''
BUGGY_RELU = '''    def forward(self, x):
        self.mask = x > 0
        np.maximum(x, 0, out=x)  # BUG: in place, the caller's input changes (the state mode sees it)
        return x

    def backward(self, dy):
        return 2 * dy * self.mask  # BUG: twice the gradient (every mode with numbers sees it)
'''

MODE_SETS = {**{m: [m] for m in MODES}, "all": list(MODES)}
OUTPUTS = {"json": ("json",), "junit": ("junit",), "repro": ("repro",), "all three": ("json", "junit", "repro")}


@pytest.fixture(scope="module")
def layers(tmp_path_factory) -> dict[str, str]:
    """A student's correct ReLU, and a copy of its file with two bugs in the ReLU."""
    source = STUDENT.read_text()
    assert CORRECT_RELU in source
    buggy = tmp_path_factory.mktemp("layers") / "buggy_relu.py"
    buggy.write_text(source.replace(CORRECT_RELU, BUGGY_RELU))
    return {"passing": f"{STUDENT}:ReLU", "failing": f"{buggy}:ReLU"}


def check(tmp_path: Path, impl: str, modes: list[str], outputs: tuple[str, ...]):
    paths = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "repro": tmp_path / "repro"}
    args = ["check", "relu", "--impl", impl, "--steps", "2"]
    args += [a for m in modes for a in ("--mode", m)]
    args += [a for o in outputs for a in (f"--{o}", str(paths[o]))]
    return CliRunner().invoke(main, args), paths


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    suites = root.findall("testsuite")
    failures = sum(c.find("failure") is not None for c in cases)
    skipped = sum(c.find("skipped") is not None for c in cases)
    assert int(root.get("failures")) == failures == sum(int(s.get("failures")) for s in suites)
    assert int(root.get("tests")) == len(cases) == sum(int(s.get("tests")) for s in suites)
    assert skipped == sum(int(s.get("skipped")) for s in suites)
    for case in cases:  # every row says what it is, with or without a comparison
        text = case.find("failure") if case.find("failure") is not None else case.find("system-out")
        if text is not None:
            assert text.text and text.text.strip(), ET.tostring(case, encoding="unicode")
    return {"tests": len(cases), "failed": failures, "unsupported": skipped}


def replayable(document: dict) -> set[str]:
    """The layers --repro must write a test for: failed on a case of the layer alone, with numbers."""
    return {r["origin"] for r in document["results"]
            if r["status"] == "failed" and r["mode"] in LAYER_ALONE and r["max_abs_err"] is not None}


@pytest.mark.parametrize("outputs", OUTPUTS.values(), ids=OUTPUTS.keys())
@pytest.mark.parametrize("modes", MODE_SETS.values(), ids=MODE_SETS.keys())
@pytest.mark.parametrize("verdict", ["passing", "failing"])
def test_every_report_file_in_every_mode(layers, tmp_path, verdict, modes, outputs):
    result, paths = check(tmp_path, layers[verdict], modes, outputs)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"{result.output}\n{result.exception!r}"
    assert result.exit_code == (0 if verdict == "passing" else 1), result.output
    assert "Traceback" not in result.output

    document = json.loads(paths["json"].read_text()) if "json" in outputs else None
    if document is not None:
        assert document["passed"] is (verdict == "passing")
        assert set(document["meta"]["modes"]) == set(modes)
        assert document["counts"]["failed"] == sum(r["status"] == "failed" for r in document["results"])
        assert (document["counts"]["failed"] > 0) is (verdict == "failing")

    if "junit" in outputs:
        counts = junit_counts(paths["junit"])
        assert (counts["failed"] > 0) is (verdict == "failing")
        if document is not None:
            assert counts == {"tests": len(document["results"]), **{k: document["counts"][k]
                                                                    for k in ("failed", "unsupported")}}

    if "repro" in outputs:
        repro = paths["repro"]
        written = {p.stem[len("test_"):] for p in repro.glob("test_*.py")} if repro.exists() else set()
        assert {p.stem for p in repro.glob("*.npz")} == written if repro.exists() else True
        alone = any(m in LAYER_ALONE for m in modes)
        if verdict == "passing" or not alone:
            assert written == set(), result.output
        else:
            assert written and written <= RELUS, written
        if document is not None:
            assert written == replayable(document)
        if verdict == "failing" and not written:
            assert f"repro: nothing written to {repro}" in result.output


def test_a_whole_files_repro_imports_the_class_of_each_layer(layers, tmp_path):
    """--impl FILE.py (every class of the file): each repro imports the file's class of its torch name, and fails
    on the bug, not on an import."""
    whole_file = layers["failing"].rpartition(":")[0]
    result = CliRunner().invoke(main, ["check", "relu", "--impl", whole_file, "--mode", "snapshot",
                                       "--repro", str(tmp_path / "repro")])
    assert result.exit_code == 1, result.output
    source = (tmp_path / "repro" / "test_relu1.py").read_text()
    assert f"IMPL, CLASS = {Path(whole_file).name!r}, 'ReLU'" in source  # the copy beside the repro files
    assert (tmp_path / "repro" / Path(whole_file).name).read_text() == Path(whole_file).read_text()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_relu1.py"],
                          capture_output=True, text=True, cwd=tmp_path / "repro", timeout=120)
    assert done.returncode == 1 and "AssertionError" in done.stdout and "ImportError" not in done.stdout, done.stdout


def test_junit_holds_a_layers_own_control_characters_as_readable_xml(tmp_path):
    """A layer's exception message may carry an ANSI colour or a NUL; the JUnit file must still parse."""
    noisy = tmp_path / "noisy.py"
    noisy.write_text(STUDENT.read_text().replace(CORRECT_RELU, '''    def forward(self, x):
        raise RuntimeError("\\x1b[31mred\\x00 and \\x07 bell")

    def backward(self, dy):
        return dy
'''))
    result = CliRunner().invoke(main, ["check", "relu", "--impl", f"{noisy}:ReLU", "--mode", "snapshot",
                                       "--junit", str(tmp_path / "r.xml"), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert junit_counts(tmp_path / "r.xml")["failed"] == document["counts"]["failed"] > 0


NO_STRIDE = ("def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):",
             "def __init__(self, in_channels, out_channels, kernel_size, bias=True):\n        stride, padding = 1, 0")


def no_stride_file(tmp_path: Path, *bugs: tuple[str, str]) -> Path:
    """The student's file with a conv whose constructor takes no stride or padding (and the bugs given)."""
    source = STUDENT.read_text()
    for old, new in (NO_STRIDE, *bugs):
        assert old in source
        source = source.replace(old, new)
    path = tmp_path / "no_stride.py"
    path.write_text(source)
    return path


def test_unsupported_rows_are_skipped_in_junit_and_counted_alike_in_the_report(tmp_path):
    """A whole file lacking the variants' classes and a conv declining stride and padding: unsupported rows (no
    comparison) are JUnit <skipped>, and the report's list counts the same checks as its summary line."""
    result = CliRunner().invoke(main, ["check", "all", "--impl", str(no_stride_file(tmp_path)), "--mode", "sweep",
                                       "--dtype", "float64", "--junit", str(tmp_path / "r.xml"),
                                       "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    unsupported = document["counts"]["unsupported"]
    assert junit_counts(tmp_path / "r.xml") == {"tests": len(document["results"]), "failed": 0,
                                                "unsupported": unsupported}
    lines = result.output.splitlines()
    head = next(line for line in lines if line.startswith("unsupported:"))
    listed = lines[lines.index(head) + 1:-1]
    declined = [line for line in listed if "constructor does not take" in line]
    assert len(listed) == 10 + len(declined) and len(declined) >= 2, listed  # bn1..bn4, res1, drop1, drop2, sigmoid3,
    # sigmoid4, softmax
    assert head.startswith(f"unsupported: {unsupported} checks of 10 variant layers whose class the file lacks and "
                           f"{len(declined)} configurations beyond what LeNet needs"), head
    assert f", {unsupported} unsupported (" in lines[-1]


def test_the_failure_matrix_marks_declined_configurations_na_not_ok(tmp_path):
    """A conv that fails and declines stride: in the failure matrix the declined configuration's cell reads n/a,
    as its -v row does, not ok under a line saying its constructor does not take the argument."""
    buggy = no_stride_file(tmp_path, ("db = dy.sum(axis=(0, 2, 3))", "db = dy.mean(axis=(0, 2, 3))"))
    result = CliRunner().invoke(main, ["check", "conv", "--impl", f"{buggy}:Conv2d", "--mode", "sweep", "--dtype",
                                       "float64", "-v"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    verbose = [line for line in lines if line.startswith(("n/a ", "ok ", "FAIL ")) and " constructor " in line]
    matrix = [line for line in lines if line.startswith("Conv2d(") and " constructor " in line]
    assert verbose and all(line.startswith("n/a ") for line in verbose), verbose
    assert matrix and all(line.split()[-1] == "n/a" for line in matrix), matrix  # one column: sweep, float64
    assert any(line.split()[-1] == "FAIL" for line in lines if line.startswith("conv1 ")), result.output


def test_cases_check_writes_junit_with_an_unanswered_case_beyond_lenet(tmp_path):
    """cases check shares the writers: an unanswered case beyond LeNet is unsupported (no comparison), so skipped."""
    export = tmp_path / "cases"
    assert CliRunner().invoke(main, ["cases", "export", "dense", "--scope", "torch", "--out", str(export)]).exit_code == 0
    answered = subprocess.run([sys.executable, ROOT / "examples" / "any_language" / "answer_with_numpy.py", export],
                              capture_output=True, text=True, timeout=300)
    assert answered.returncode == 0, answered.stderr
    manifest = json.loads((export / "manifest.json").read_text())
    beyond = next(c for c in manifest["cases"] if c["beyond_lenet"])
    for answer in (export / "answers" / beyond["id"]).iterdir():
        answer.unlink()
    result = CliRunner().invoke(main, ["cases", "check", str(export), "--junit", str(tmp_path / "r.xml"),
                                       "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["counts"]["unsupported"] > 0
    assert junit_counts(tmp_path / "r.xml") == {"tests": len(document["results"]), "failed": 0,
                                                "unsupported": document["counts"]["unsupported"]}


def test_check_help_names_both_forms_of_impl():
    text = " ".join(CliRunner().invoke(main, ["check", "--help"]).output.split())
    assert "--impl FILE.py[:CLASS]|MODULE:CLASS" in text
    assert "or a whole file (path/to/file.py)" in text and "check all --impl my_layers.py" in text
