"""cases export / cases check: the layer-alone cases as .npy files, answered by programs that never import us."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from lenet_parity.reference.layers import KINDS
from lenet_parity.harness.cli import main

EXAMPLE = ROOT / "examples" / "any_language"
ANSWER_WITH_NUMPY = EXAMPLE / "answer_with_numpy.py"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def export(tmp_path, *types: str, scope: str = "lenet"):
    out = tmp_path / "cases"
    result = run("cases", "export", *types, "--out", out, "--scope", scope)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "manifest.json").read_text())


def answer_with_numpy(folder) -> None:
    done = subprocess.run([sys.executable, ANSWER_WITH_NUMPY, folder], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def case_of(manifest, **match):
    return next(c for c in manifest["cases"] if all(c[k] == v for k, v in match.items()))


def test_the_export_holds_inputs_and_a_manifest_never_the_expected_values(tmp_path):
    out, manifest = export(tmp_path, "dense", "loss", scope="torch")
    assert manifest["format_version"] == 1 and manifest["torch_version"] and manifest["types"] == ["dense", "loss"]
    for case in manifest["cases"]:
        files = sorted(p.stem for p in (out / case["dir"]).iterdir())
        assert files == sorted(case["inputs"])  # nothing but the inputs: no y, dx or grads to copy
        assert not set(case["outputs"]) & set(files)
    linear = case_of(manifest, id="dense-snapshot-fc1-phase0-float32")
    assert linear["kwargs"] == {"in_features": 256, "out_features": 120} and linear["beyond_lenet"] is False
    assert linear["inputs"] == ["bias", "dy", "weight", "x"]
    assert linear["outputs"] == ["y", "dx", "grad_weight", "grad_bias"]
    assert np.load(out / linear["dir"] / "weight.npy").shape == (120, 256)
    assert np.load(out / linear["dir"] / "x.npy").dtype == np.float32
    no_bias = case_of(manifest, layer="Linear", name="Linear(5, 4, bias=False)", dtype="float64")
    assert no_bias["beyond_lenet"] is True and "grad_bias" not in no_bias["outputs"]
    loss = case_of(manifest, id="loss-snapshot-loss-phase0-float64")
    assert loss["outputs"] == ["y", "dx"] and "target" in loss["inputs"]
    assert np.load(out / loss["dir"] / "target.npy").dtype == np.int64
    tsv = (out / "manifest.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:5] == ["id", "type", "layer", "dtype", "dir"] and len(tsv) == 1 + len(manifest["cases"])


def test_lenet_scope_leaves_out_the_cases_beyond_lenet(tmp_path):
    _, manifest = export(tmp_path, "dense")
    assert manifest["scope"] == "lenet" and not any(c["beyond_lenet"] for c in manifest["cases"])


def test_the_numpy_example_imports_nothing_of_lenet_parity():
    imported = set()
    for node in ast.walk(ast.parse(ANSWER_WITH_NUMPY.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"__future__", "json", "sys", "pathlib", "numpy"}


def test_a_plain_numpy_program_answers_every_layer_type(tmp_path):
    out, manifest = export(tmp_path, "all", scope="torch")
    assert {c["type"] for c in manifest["cases"]} == set(KINDS)  # LeNet's, its variants' and LeNet-5's types
    answer_with_numpy(out)
    result = run("cases", "check", out, "--json", tmp_path / "check.json")
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "check.json").read_text())
    assert document["passed"] and document["counts"]["failed"] == 0
    assert {r["mode"] for r in document["results"]} == {"snapshot", "sweep"}
    assert document["counts"]["passed"] == len(document["results"]) > 500


@pytest.fixture
def answered(tmp_path):
    out, manifest = export(tmp_path, "relu", "dense", "loss", scope="torch")
    answer_with_numpy(out)
    return out, manifest


def test_a_wrong_answer_fails_at_its_layer_and_tensor_with_a_diagnosis(answered, tmp_path):
    out, manifest = answered
    case = case_of(manifest, id="loss-snapshot-loss-phase0-float32")
    dx = out / "answers" / case["id"] / "dx.npy"
    np.save(dx, np.load(dx) * 4)  # N = 4: the batch summed instead of averaged
    result = run("cases", "check", out, "--repro", tmp_path / "repro")
    assert result.exit_code == 1
    assert "first failure: loss.grad_input [snapshot, float32]" in result.output
    assert "summed over the batch instead of averaging" in result.output
    folder = tmp_path / "repro" / case["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "expected_dx.npy", "expected_y.npy",
                                                         "got_dx.npy", "got_y.npy", "target.npy", "x.npy"]
    np.testing.assert_array_equal(np.load(folder / "got_dx.npy"), np.load(dx))
    np.testing.assert_allclose(np.load(folder / "got_dx.npy"), 4 * np.load(folder / "expected_dx.npy"), rtol=1e-6)
    readme = (folder / "README.txt").read_text()
    assert "loss.grad_input" in readme and "(file dx.npy)" in readme and "likely cause:" in readme


def test_missing_answers_fail_within_lenet_and_are_unsupported_beyond_it(answered):
    out, manifest = answered
    beyond = case_of(manifest, beyond_lenet=True, layer="Linear")
    shutil.rmtree(out / "answers" / beyond["id"])
    result = run("cases", "check", out)
    assert result.exit_code == 0, result.output
    assert "1 unsupported" in result.output and "no answer to this case beyond LeNet" in result.output
    within = case_of(manifest, id="relu-snapshot-relu1-phase0-float64")
    (out / "answers" / within["id"] / "dx.npy").unlink()
    result = run("cases", "check", out)
    assert result.exit_code == 1
    assert "relu1.grad_input [snapshot, float64]: answers/relu-snapshot-relu1-phase0-float64/dx.npy is missing" \
        in result.output


def test_an_answer_in_another_dtype_fails(answered):
    out, manifest = answered
    y = out / "answers" / "dense-snapshot-fc2-phase0-float32" / "y.npy"
    np.save(y, np.load(y).astype(np.float64))
    result = run("cases", "check", out)
    assert result.exit_code == 1
    assert "fc2.output [snapshot, float32]: answers/dense-snapshot-fc2-phase0-float32/y.npy has dtype float64, the " \
           "case is float32" in result.output
    assert "fc2.grad_input [snapshot, float32]" not in result.output  # each answer is judged on its own


def test_a_program_that_writes_into_its_inputs_fails(answered):
    out, manifest = answered
    x = out / "cases" / "relu-snapshot-relu2-phase0-float32" / "x.npy"
    np.save(x, np.maximum(np.load(x), 0))  # ReLU in place, saved over its input
    result = run("cases", "check", out)
    assert result.exit_code == 1 and "relu2.input_unchanged" in result.output and "x.npy is not what was exported" in result.output


@pytest.mark.parametrize("damage, message", [
    (lambda out: (out / "manifest.json").unlink(), "manifest.json: not found"),
    (lambda out: (out / "manifest.json").write_text("{"), "not a readable manifest"),
    (lambda out: _edit(out, lambda m: m.update(format_version=99)), "format_version 99"),
    (lambda out: _edit(out, lambda m: m["cases"][0].update(id="relu-from-elsewhere")), "not this lenet-parity's"),
    (lambda out: _edit(out, lambda m: m["cases"][0].update(inputs_sha256="0" * 64)), "exported with other inputs"),
])
def test_a_damaged_or_foreign_export_is_bad_input(answered, damage, message):
    out, _ = answered
    damage(out)
    result = run("cases", "check", out)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def _edit(out, change):
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_export_replaces_an_earlier_export_and_keeps_the_answers(answered, tmp_path):
    out, _ = answered
    (out / "cases" / "stale-case").mkdir()
    result = run("cases", "export", "relu", "--out", out)
    assert result.exit_code == 0, result.output
    assert not (out / "cases" / "stale-case").exists() and (out / "answers").is_dir()
    assert [p.name for p in out.iterdir() if p.name.startswith(".cases-")] == []


def test_export_of_an_unknown_type_is_bad_input(tmp_path):
    result = run("cases", "export", "attention", "--out", tmp_path)
    assert result.exit_code == 2 and "attention" in result.output


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_example_passes_and_its_planted_bug_is_found(tmp_path):
    build = subprocess.run(["make", "-C", EXAMPLE, "answer", "answer-buggy"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    out, _ = export(tmp_path, "relu", "dense", scope="torch")
    for program, verdict in (("answer", 0), ("answer-buggy", 1)):
        done = subprocess.run([EXAMPLE / program, out], capture_output=True, text=True)
        assert done.returncode == 0 and "answered 52 cases" in done.stdout, done.stdout + done.stderr
        result = run("cases", "check", out)
        assert result.exit_code == verdict, result.output
    assert "first failure: fc1.grad_bias [snapshot, float32]" in result.output
    assert "averaged over the batch instead of summing" in result.output


def _claims_1e11_floats(path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(16))


@pytest.mark.parametrize("write, message", [
    (_claims_1e11_floats, "is not a readable .npy file"),  # mapped, never allocated
    (lambda p: np.save(p, np.array([{"evil": 1}], dtype=object)), "is not a readable .npy file"),  # no pickles
    (lambda p: p.write_text("0.5 0.25\n"), "is not a readable .npy file"),
    (lambda p: np.save(p, np.zeros((2, 2), np.float32)), "shape (2, 2) != expected"),
])
def test_a_malformed_answer_is_that_tensors_failure_never_a_crash(answered, write, message):
    out, _ = answered
    write(out / "answers" / "relu-snapshot-relu1-phase0-float32" / "y.npy")
    result = run("cases", "check", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"relu1.output [snapshot, float32]" in result.output and message in result.output


def test_an_edited_manifest_cannot_shrink_what_a_gate_requires(answered):
    out, _ = answered
    _edit(out, lambda m: (m.update(types=["relu"]), m.update(cases=[c for c in m["cases"] if c["type"] == "relu"])))
    result = run("cases", "check", out)  # no requirement: what the export holds is checked, and said
    assert result.exit_code == 0 and "checked the export's relu cases, scope torch" in result.output
    result = run("cases", "check", out, "relu", "dense", "--scope", "torch")
    assert result.exit_code == 2 and "the export lacks dense, which this check requires" in result.output


def test_under_scope_torch_an_unanswered_case_beyond_lenet_fails(answered):
    out, manifest = answered
    beyond = case_of(manifest, beyond_lenet=True, layer="Linear")
    shutil.rmtree(out / "answers" / beyond["id"])
    assert run("cases", "check", out, "dense").exit_code == 0
    result = run("cases", "check", out, "dense", "--scope", "torch")
    assert result.exit_code == 1 and "unsupported under --scope torch: no answer to this case" in result.output


def test_a_symlinked_answer_is_refused_and_never_copied_into_the_repro(answered, tmp_path):
    out, _ = answered
    secret = tmp_path / "secret.npy"
    np.save(secret, np.arange(3.0))
    y = out / "answers" / "relu-snapshot-relu1-phase0-float64" / "y.npy"
    y.unlink()
    y.symlink_to(secret)
    result = run("cases", "check", out, "--repro", tmp_path / "repro")
    assert result.exit_code == 1 and "y.npy is (under) a symbolic link" in result.output
    folder = tmp_path / "repro" / "relu-snapshot-relu1-phase0-float64"
    assert (folder / "got_dx.npy").is_file() and not (folder / "got_y.npy").exists()


def test_a_repro_folder_is_replaced_whole(answered, tmp_path):
    out, _ = answered
    case = "dense-snapshot-fc2-phase0-float64"
    stale = tmp_path / "repro" / case / "got_leftover.npy"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    dx = out / "answers" / case / "dx.npy"
    np.save(dx, np.load(dx) * 2)
    assert run("cases", "check", out, "--repro", tmp_path / "repro").exit_code == 1
    assert not stale.exists() and (tmp_path / "repro" / case / "got_dx.npy").is_file()


@pytest.mark.parametrize("change", [
    lambda m: m.pop("types"),
    lambda m: m.update(types=["attention"]),
    lambda m: m.update(cases=[1, 2]),
    lambda m: m.update(cases=[{"id": ["not", "a", "string"]}]),
    lambda m: m.update(dtypes="float32"),
])
def test_a_malformed_manifest_is_one_line_not_a_traceback(answered, change):
    out, _ = answered
    _edit(out, change)
    result = run("cases", "check", out)
    assert result.exit_code == 2 and "damaged" in result.output and "Traceback" not in result.output


def test_an_enormous_answer_is_not_read(answered):
    out, _ = answered
    np.save(out / "answers" / "loss-snapshot-loss-phase0-float64" / "y.npy", np.zeros(1 << 21))
    result = run("cases", "check", out)
    assert result.exit_code == 1 and "y.npy holds 2097152 values, the case expects 1: not read" in result.output


def test_a_partly_answered_case_beyond_lenet_is_unsupported_where_unanswered(answered):
    out, manifest = answered
    beyond = case_of(manifest, beyond_lenet=True, layer="Linear", dtype="float32")
    (out / "answers" / beyond["id"] / "dx.npy").unlink()  # a port without this backward
    result = run("cases", "check", out, "-v")
    assert result.exit_code == 0, result.output
    assert "no answer dx.npy to this case beyond LeNet" in result.output and "1 unsupported" in result.output
    result = run("cases", "check", out, "--scope", "torch")
    assert result.exit_code == 1 and f"answers/{beyond['id']}/dx.npy is missing" in result.output
    grad = out / "answers" / beyond["id"] / "grad_weight.npy"
    np.save(grad, np.load(grad) * 2)  # what it does answer is still judged
    assert run("cases", "check", out).exit_code == 1


CLI = Path(sys.executable).with_name("lenet-parity")


def _fifo(path):
    path.unlink(missing_ok=True)
    os.mkfifo(path)


@pytest.mark.parametrize("where, make, kind", [
    ("cases/relu-sweep-relu1-x_1_3_5_7_zeros-float32/dy.npy", _fifo, "is a FIFO, not a regular file"),
    ("answers/relu-snapshot-relu1-phase0-float64/y.npy", _fifo, "is a FIFO, not a regular file"),
    ("manifest.json", _fifo, "is a FIFO, not a regular file"),
    ("answers/relu-snapshot-relu1-phase0-float32/dx.npy", lambda p: (p.unlink(), p.mkdir()), "is a folder, not a "
                                                                                             "regular file"),
    ("cases/relu-snapshot-relu2-phase0-float64/x.npy", lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
     "is a symbolic link to /dev/zero, outside"),
])
def test_cases_check_opens_only_regular_files_and_names_what_it_refused(answered, where, make, kind):
    """A FIFO used to block open() forever: the checker runs in a subprocess with a deadline, so a regression
    fails this test in a minute instead of hanging it."""
    out, manifest = answered
    path = out / where
    assert path.parent.name in {c["id"] for c in manifest["cases"]} | {out.name}, "a case id changed: update the test"
    make(path)
    done = subprocess.run([str(CLI), "cases", "check", str(out)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cases check: {path} {kind}"), done.stderr
