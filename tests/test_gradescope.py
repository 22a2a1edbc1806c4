"""Gradescope as it really runs: the zip a teacher uploads, and its run_autograder on a fake /autograder tree
(AUTOGRADER_ROOT) for a correct multi-file folder, a one-bug file, a hang, a syntax error and an empty folder;
every results.json written here valid against tests/gradescope_results.schema.json."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT
from lenet_parity.harness.cli import main

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads((ROOT / "tests" / "gradescope_results.schema.json").read_text())
STUDENT = ROOT / "tests" / "student_layers"
CORRECT = (STUDENT / "numpy_layers.py").read_text()
LAYER_TYPES = ["conv", "pool", "relu", "dense", "flatten", "logsoftmax", "loss"]
LENET_PARITY = Path(sys.executable).with_name("lenet-parity")  # the installed command run_autograder calls
QUICK = ["--timeout", "2", "--mode", "snapshot"]  # the snapshot mode alone: each run takes seconds

CONV_FORWARD = "    def forward(self, x):\n        W = self.params"  # the first forward in the file: Conv2d's
HANGS = CORRECT.replace(CONV_FORWARD, "    def forward(self, x):\n        import time\n        while True:\n"
                                      "            time.sleep(1)\n        W = self.params", 1)  # never returns
PRINTS = CORRECT.replace(CONV_FORWARD, "    def forward(self, x):\n        print('conv forward called')\n"
                                       "        W = self.params", 1)
HIDDEN_RUBRIC = """stdout_visibility = "visible"
[defaults]
visibility = "hidden"
[types.loss]
graded = false
"""


def valid(document: dict) -> dict:
    jsonschema.validate(document, SCHEMA)  # raises with the offending key
    return document


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """The zip built once (snapshot mode, 2 s timeout), unpacked as Gradescope's /autograder/source."""
    folder = tmp_path_factory.mktemp("autograder")
    result = CliRunner().invoke(main, ["gradescope", "build", "--out", str(folder / "autograder.zip"), *QUICK])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(folder / "autograder.zip") as archive:
        archive.extractall(folder / "source")
        for info in archive.infolist():  # extractall drops the modes: set them as unzip would
            os.chmod(folder / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    return folder


def run_autograder(autograder: Path, root: Path) -> dict:
    """run_autograder from the zip on a fake /autograder tree, with the installed lenet-parity."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "LENET_PARITY": str(LENET_PARITY)}
    done = subprocess.run([str(autograder / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return valid(json.loads((root / "results" / "results.json").read_text()))


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A fake /autograder with ``files`` (relative path -> text) in submission/."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    return root


def by_type(document: dict) -> dict[str, dict]:
    return {t["tags"][0]: t for t in document["tests"]}


def test_the_zip_holds_what_gradescope_runs(autograder):
    with zipfile.ZipFile(autograder / "autograder.zip") as archive:
        infos = {i.filename: i for i in archive.infolist()}
        config = json.loads(archive.read("config.json"))
        script = archive.read("run_autograder").decode()
        setup = archive.read("setup.sh").decode()
    wheels = [n for n in infos if n.startswith("lenet_parity-") and n.endswith(".whl")]
    assert set(infos) == {"setup.sh", "run_autograder", "config.json", "rubric.toml", *wheels} and len(wheels) == 1
    for name in ("setup.sh", "run_autograder"):
        mode = infos[name].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, f"{name} is not executable in the zip: {oct(mode)}"
    assert config["seed"] == 0 and config["timeout"] == 2 and config["modes"] == ["snapshot"]
    assert config["lenet_parity"] and config["wheel"] == wheels[0] and config["adapter"] is None
    assert script.startswith("#!/usr/bin/env bash") and "gradescope run --root \"$ROOT\"" in script
    assert "--seed 0 --timeout 2 --mode snapshot" in script and "${AUTOGRADER_ROOT:-/autograder}" in script
    assert setup.startswith("#!/usr/bin/env bash") and f'"$SOURCE/{wheels[0]}"' in setup
    for name in ("setup.sh", "run_autograder"):  # setup.sh cannot run here (apt, /opt): bash reads it at least
        done = subprocess.run(["bash", "-n", str(autograder / "source" / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    from lenet_parity.harness.rubric import DEFAULT_RUBRIC, read_rubric

    assert read_rubric(autograder / "source" / "rubric.toml").digest() == DEFAULT_RUBRIC.digest() \
        == config["rubric_digest"]  # the default rubric, spelled out


def test_a_correct_multi_file_folder_gets_full_points(autograder, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(ROOT / "tests" / "convention_class" / "heidi_multifile", root / "submission")
    document = run_autograder(autograder, root)
    assert document["score"] == 70.0 and document["stdout_visibility"] == "hidden"
    assert [t["tags"][0] for t in document["tests"]] == LAYER_TYPES
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] == 10.0 for t in document["tests"])
    assert "layers/conv.py" in document["output"] and isinstance(document["execution_time"], int)


def test_a_one_bug_file_gets_partial_points_and_its_cause(autograder, tmp_path):
    root = tree(tmp_path, {"hw3/my_layers.py": (STUDENT / "buggy" / "B01_conv_bias_grad_mean.py").read_text()})
    document = run_autograder(autograder, root)
    tests = by_type(document)
    assert document["score"] == 60.0 and tests["conv"]["score"] == 0.0 and tests["conv"]["status"] == "failed"
    assert "first failure: conv2.grad_bias" in tests["conv"]["output"]
    assert "likely cause: grad_bias is the expected one times 1/(N*H*W)" in tests["conv"]["output"]
    assert all(tests[k]["score"] == 10.0 for k in LAYER_TYPES if k != "conv")


def test_a_hang_is_a_timeout_with_no_points_and_the_rest_graded(autograder, tmp_path):
    document = run_autograder(autograder, tree(tmp_path, {"layers.py": HANGS}))
    conv = by_type(document)["conv"]
    assert conv["score"] == 0.0 and conv["status"] == "failed"
    assert "timeout" in conv["output"] and "2 s" in conv["output"], conv["output"]
    assert document["score"] == 60.0


@pytest.mark.parametrize("files, words", [
    ({"layers.py": "def broken(:\n"}, "SyntaxError"),
    ({}, "empty folder"),
    ({"notes.txt": "my layers are in the notebook", "hw.ipynb": "{}"}, "export hw.ipynb as a Python script"),
])
def test_what_cannot_be_graded_gets_0_and_why_in_every_test(autograder, tmp_path, files, words):
    document = run_autograder(autograder, tree(tmp_path, files))
    assert document["score"] == 0.0 and len(document["tests"]) == len(LAYER_TYPES)
    for test in document["tests"]:
        assert test["score"] == 0.0 and test["status"] == "failed" and words in test["output"], test["output"]


def test_hidden_tests_show_the_cause_never_the_numbers(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(HIDDEN_RUBRIC)
    root = tree(tmp_path, {"layers.py": PRINTS.replace("db = dy.sum(axis=(0, 2, 3))", "db = dy.mean(axis=(0, 2, 3))")})
    result = CliRunner().invoke(main, ["gradescope", "run", "--root", str(root), "--rubric", str(rubric), *QUICK])
    assert result.exit_code == 0, result.output
    document = valid(json.loads((root / "results" / "results.json").read_text()))
    tests = by_type(document)
    assert "loss" not in tests and {t["visibility"] for t in document["tests"]} == {"hidden"}
    assert document["stdout_visibility"] == "visible" and "conv forward called" in document["output"]
    assert "conv forward called" in result.output  # Gradescope's stdout file: shown per stdout_visibility
    assert tests["pool"]["output"] == "pass"
    conv = tests["conv"]["output"]
    assert conv.startswith("fail: first failure at conv") and "likely cause" in conv
    assert not any(word in conv for word in ("max abs", "mismatched", "atol", "expected_at_worst", "checks passed"))


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["gradescope", "build", "--out", str(tmp_path / "a.zip"), "--rubric",
                                  str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "file not found" in result.output and not (tmp_path / "a.zip").exists()
    adapter = tmp_path / "adapter.toml"
    adapter.write_text("[convolution]\nclass = 'Conv'\n")
    result = runner.invoke(main, ["gradescope", "build", "--out", str(tmp_path / "a.zip"), "--adapter", str(adapter)])
    assert result.exit_code == 2 and "is not a layer type" in result.output and not (tmp_path / "a.zip").exists()
    assert len(result.output.strip().splitlines()) == 1
    # at run time a bad rubric still leaves the student a results.json saying the autograder is misconfigured
    root = tree(tmp_path, {"layers.py": CORRECT})
    (tmp_path / "bad.toml").write_text("[types.convolution]\npoints = 5\n")
    result = runner.invoke(main, ["gradescope", "run", "--root", str(root), "--rubric", str(tmp_path / "bad.toml")])
    assert result.exit_code == 2 and "unknown layer type" in result.output
    document = valid(json.loads((root / "results" / "results.json").read_text()))
    assert document["score"] == 0.0 and "misconfigured" in document["output"]


def test_grade_gradescope_writes_one_valid_results_json_per_student(tmp_path):
    """``grade --gradescope`` for a whole class: each student's own results.json, as Gradescope would take it."""
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice.py").write_text(CORRECT)
    (tmp_path / "class" / "bob.py").write_text((STUDENT / "buggy" / "B01_conv_bias_grad_mean.py").read_text())
    out = tmp_path / "grades"
    result = CliRunner().invoke(main, ["grade", str(tmp_path / "class"), "--out", str(out), "--gradescope", *QUICK])
    assert result.exit_code == 0, result.output
    scores = {s: valid(json.loads((out / "students" / s / "results.json").read_text()))["score"]
              for s in ("alice", "bob")}
    assert scores == {"alice": 70.0, "bob": 60.0}
