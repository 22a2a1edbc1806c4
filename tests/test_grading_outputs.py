"""grade's outputs are safe to open (issue 20): no spreadsheet formula from a student's name, one folder per
student however the names collide, each row linking its own report, a reason built from the run's rows, and a
full disk that leaves --out as it was."""

from __future__ import annotations

import csv
import errno
import html
import json
import os
import re

import numpy as np
import pytest
from click.testing import CliRunner

from student_layers.classroom import CORRECT, HERE, LAYER_TYPES
from lenet_parity.harness import grading
from lenet_parity.harness.cli import main
from lenet_parity.harness.compare import compare
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.vocabulary import DEFAULT_SEED

FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "+1", "-2", "\tTAB", "\rCR", "=1+2"]


def test_formula_cells_are_quoted_and_numbers_stay_numbers(tmp_path):
    """Every name a spreadsheet would run reads back from csv.reader as ' + the name; the other cells as written."""
    names = [*FORMULAS, "alice", "O'Brien, José"]
    grades = [grading.Grade(name, cells=dict.fromkeys(LAYER_TYPES, "pass"), passed=3, total=4, folder=f"s{i}",
                            points=dict.fromkeys(LAYER_TYPES, 10.0), max_points=dict.fromkeys(LAYER_TYPES, 10.0))
              for i, name in enumerate(names)]
    grading.write_gradebook(grades, tmp_path)
    header, *rows = list(csv.reader((tmp_path / "gradebook.csv").open(newline="")))
    assert header == ["student", *LAYER_TYPES, "checks_passed", "checks_total", "points", "max_points", "score",
                      "report", "seed"]
    read = {row[0]: row for row in rows}
    assert set(read) == {"'" + n for n in FORMULAS} | {"alice", "O'Brien, José"}
    for name in names:
        row = read["'" + name if name in FORMULAS else name]
        assert row[1:] == [*["pass"] * len(LAYER_TYPES), "3", "4", "70.0", "70.0", "1.0",
                           f"students/s{names.index(name)}/report.json", str(DEFAULT_SEED)]
    assert all(not cell.startswith(grading.FORMULA_STARTS) for row in rows for cell in row)


def test_the_html_gradebook_escapes_names_and_reasons(tmp_path):
    name, reason = "<img src=x onerror=alert(1)>", '"><script>alert(2)</script>'
    grading.write_gradebook([grading.Grade(name, cells={"conv": "fail"}, reasons={"conv": reason}, folder="x")],
                            tmp_path)
    page = (tmp_path / "gradebook.html").read_text()
    assert "<img" not in page and "<script" not in page
    assert html.escape(name) in page and html.escape(reason) in page


def test_reason_is_the_first_failure_and_its_likely_cause():
    """Built from the rows, not by cutting failure_message() into lines: the same words for a values failure and
    a crash, and a run without rows has a reason too (cutting its one-line message raised)."""
    tol = {"atol": 1e-6, "rtol": 1e-6}
    expected = np.arange(6.0).reshape(2, 3)
    run = CheckRun([CheckResult("conv1", "output", "snapshot", "float64",
                                comparison=compare(expected, expected, **tol)),
                    CheckResult("conv1", "grad_bias", "snapshot", "float64",
                                comparison=compare(expected / 4, expected, **tol)),
                    CheckResult("conv2", "output", "sweep", "float64", error="Conv2d.forward() raised ValueError: no")])
    first = run.results[1]
    assert grading.reason_of(run) == (f"first failure: {first.describe()}; likely cause: {first.likely().hint} "
                                      f"[{first.likely().code}]")
    head, *_, likely, _ = run.failure_message().splitlines()
    assert grading.reason_of(run) == f"{head}; {likely}"
    crash = CheckRun([run.results[2]])
    assert grading.reason_of(crash) == ("first failure: conv2.output [sweep, float64]: Conv2d.forward() raised "
                                        "ValueError: no; likely cause: Conv2d.forward() raised ValueError: no [crash]")
    assert grading.reason_of(CheckRun()) == "no check ran"


COLLIDING = {  # student -> the file's text: pairs of names that make one safe name, each its own folder
    "jo hn": (HERE / "buggy" / "B01_conv_bias_grad_mean.py").read_text(),
    "jo_hn": (HERE / "buggy" / "B04_pool_grad_last_max_on_ties.py").read_text(),
    "O'Brien, José": "",
    "O_Brien_Jos": CORRECT,
}


def _grade(subs, out, *extra):
    return CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--timeout", "20", "--mode", "snapshot",
                                     "--workers", "2", *extra])


def test_a_class_with_formula_and_colliding_names(tmp_path):
    """Names a spreadsheet would run are quoted; names that make one folder name get one folder each, numbered
    in the sorted order of submissions; each row of the CSV and the HTML links the report of its own student;
    the repro folders are the students' own."""
    subs = tmp_path / "class"
    subs.mkdir()
    for name, text in COLLIDING.items():
        (subs / f"{name}.py").write_text(text)
    for name in ["=HYPERLINK(\"http:x\",\"y\")", "@SUM(1+1)", "+1", "-2", "<img src=x onerror=alert(1)>"]:
        (subs / f"{name}.py").write_text("")
    (subs / "dave").mkdir()  # a folder and a file of one student's name: two submissions, two folders
    (subs / "dave" / "layers.py").write_text("")
    (subs / "dave.py").write_text("")
    out = tmp_path / "grades"
    result = _grade(subs, out)
    assert result.exit_code == 0, result.output
    header, *rows = list(csv.reader((out / "gradebook.csv").open(newline="")))
    rows = [[*row[:header.index("report") + 1]] for row in rows]  # the report's path last
    students = [r[0] for r in rows]
    assert sorted(students) == sorted(["'=HYPERLINK(\"http:x\",\"y\")", "'@SUM(1+1)", "'+1", "'-2", "jo hn",
                                       "jo_hn", "O'Brien, José", "O_Brien_Jos", "<img src=x onerror=alert(1)>",
                                       "dave", "dave"])
    folders = {r[0] + " " + r[-1] for r in rows}
    assert {"jo hn students/jo_hn/report.json", "jo_hn students/jo_hn-2/report.json",
            "O'Brien, José students/O_Brien_Jos/report.json", "O_Brien_Jos students/O_Brien_Jos-2/report.json",
            "'-2 students/2/report.json", "'+1 students/1/report.json"} <= folders
    assert len({r[-1] for r in rows}) == len(rows) == len(list((out / "students").iterdir()))
    files = {r[-1]: json.loads((out / r[-1]).read_text())["file"] for r in rows}
    for row in rows:  # each row's report is its own student's, down to the file graded
        report = json.loads((out / row[-1]).read_text())
        assert report["student"] == (row[0][1:] if row[0].startswith("'") else row[0])
        assert report["cells"] == dict(zip(LAYER_TYPES, row[1:8]))
    assert len(set(files.values())) == len(rows)
    cells = {r[0]: dict(zip(LAYER_TYPES, r[1:8])) for r in rows}
    assert cells["jo hn"]["conv"] == "fail" and cells["jo_hn"]["pool"] == "fail" and cells["jo_hn"]["conv"] == "pass"
    assert set(cells["O_Brien_Jos"].values()) == {"pass"} and set(cells["O'Brien, José"].values()) == {"error"}
    assert sorted(p.name for p in (out / "students" / "jo_hn" / "repro").glob("test_*.py")) == [
        "test_conv1.py", "test_conv2.py"]
    assert sorted(p.name for p in (out / "students" / "jo_hn-2" / "repro").glob("test_*.py")) == [
        "test_pool1.py", "test_pool2.py"]
    assert (out / "students" / "jo_hn-2" / "repro" / "jo_hn.py").read_text() == COLLIDING["jo_hn"]
    page = (out / "gradebook.html").read_text()
    links = {html.unescape(text): href for href, text in re.findall(r'<a href="([^"]+)">([^<]*)</a>', page)}
    assert "<img" not in page and links["<img src=x onerror=alert(1)>"].startswith("students/")
    assert links["jo hn"] == "students/jo_hn/report.json" and links["jo_hn"] == "students/jo_hn-2/report.json"
    book = json.loads((out / "gradebook.json").read_text())["grades"]
    assert sorted(g["report"] for g in book) == sorted(r[-1] for r in rows)


def test_folders_are_numbered_in_the_sorted_order_of_submissions(tmp_path):
    subs = tmp_path / "class"
    subs.mkdir()
    for name in ["jo_hn-2", "jo_hn", "jo hn", "JO HN"]:  # a name as a suffix would make it; case alone differs
        (subs / f"{name}.py").write_text("")
    assert {s.student: s.folder for s in grading.find_submissions(subs)} == {
        "JO HN": "JO_HN", "jo hn": "jo_hn-2", "jo_hn": "jo_hn-3", "jo_hn-2": "jo_hn-2-2"}


def _full_disk_in(folder, *, allowed: int = 0, only: str = ""):
    """os.write as on a disk that fills after ``allowed`` bytes of files under ``folder`` (whose name contains
    ``only``): a short write, then ENOSPC; pipes and every other file are written as usual."""
    real_write, folder, written = os.write, os.path.realpath(folder), [0]

    def write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if not (target.startswith(folder + os.sep) and only in os.path.basename(target)):
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


def _one_error_line(result, out):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error")] == [
        f"error: {out}: the grades could not be written (No space left on device); nothing there was changed"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="tells files by /proc/self/fd")
@pytest.mark.parametrize("allowed, only", [(0, ""), (300, "report"), (100, "gradebook.html")],
                         ids=["first-byte", "in-a-report", "last-file"])
def test_a_full_disk_leaves_out_as_it_was(tmp_path, monkeypatch, allowed, only):
    subs = tmp_path / "class"
    subs.mkdir()
    for name in ("amy", "ben"):
        (subs / f"{name}.py").write_text("")
    fresh, earlier = tmp_path / "fresh", tmp_path / "earlier"
    assert _grade(subs, earlier).exit_code == 0
    (earlier / "teacher_notes.txt").write_text("kept")
    before = _content(earlier)
    (subs / "cleo.py").write_text(CORRECT)
    monkeypatch.setattr(os, "write", _full_disk_in(tmp_path, allowed=allowed, only=only))
    for out in (fresh, earlier):
        _one_error_line(_grade(subs, out), out)
    assert not fresh.exists()
    assert _content(earlier) == before  # not one file new, gone or half-written, and no scratch folder left


def test_a_failed_swap_puts_every_entry_back(tmp_path, monkeypatch):
    """The disk fills at the last moment, while the new entries are renamed in: the ones renamed go back out."""
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "amy.py").write_text("")
    out = tmp_path / "grades"
    assert _grade(subs, out).exit_code == 0
    before = _content(out)
    (subs / "ben.py").write_text("")
    real_rename, renames = os.rename, []

    def rename(src, dst):
        if ".staging-" in str(src) and os.path.dirname(dst) == str(out):
            renames.append(dst)
            if len(renames) == 3:  # gradebook.csv and gradebook.html are in; gradebook.json fails
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    _one_error_line(_grade(subs, out), out)
    assert len(renames) == 3 and _content(out) == before


def test_the_seed_draws_the_inputs_and_is_recorded(tmp_path):
    """grade --seed reaches every check (a buggy layer's sweep errors change with it) and is written into the
    CSV, the JSON and HTML gradebooks and each report; without it, the default (the same as check's)."""
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "bob.py").write_text((HERE / "buggy" / "B01_conv_bias_grad_mean.py").read_text())
    errors = {}
    for seed in (None, 7):
        out = tmp_path / f"seed-{seed}"
        result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--mode", "sweep", "--workers", "1",
                                           *(["--seed", str(seed)] if seed is not None else [])])
        assert result.exit_code == 0, result.output
        expected = DEFAULT_SEED if seed is None else seed
        assert f"(seed {expected})" in result.stdout
        (row,) = csv.DictReader((out / "gradebook.csv").open(newline=""))
        assert row["seed"] == str(expected)
        book = json.loads((out / "gradebook.json").read_text())
        assert book["seeds"] == [expected] and book["grades"][0]["seed"] == expected
        assert f"seed {expected}</caption>" in (out / "gradebook.html").read_text()
        report = json.loads((out / "students" / "bob" / "report.json").read_text())
        assert report["seed"] == expected and report["cells"]["conv"] == "fail"
        errors[seed] = [r["max_abs_err"] for r in report["reports"]["conv"]["results"] if r["status"] == "failed"]
    assert errors[None] and errors[7] and errors[None] != errors[7]
