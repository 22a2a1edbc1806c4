"""The page a teacher hands back (harness/student_report.py), from real check runs wrapped as grading writes
report.json: a one-bug conv (B01: grad_bias averaged) fails with its cause and repro, a correct relu passes, a
hidden type shows no number, a student's text is escaped, and the page stands alone."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from conftest import ROOT
from lenet_parity.harness.api import check_layer
from lenet_parity.harness.grade_cells import judge
from lenet_parity.harness.grade_record import Grade, Submission
from lenet_parity.harness.grade_submission import report_json
from lenet_parity.harness.rubric import DEFAULT_RUBRIC, Rubric, TypeRule
from lenet_parity.harness.student_report import CELL_COLOURS, student_report_html

BUGGY = ROOT / "tests" / "student_layers" / "buggy" / "B01_conv_bias_grad_mean.py"
CORRECT = ROOT / "tests" / "student_layers" / "numpy_layers.py"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & </pre></section>'
VOID = {"meta", "br", "hr", "img", "input", "link"}


@pytest.fixture(scope="module")
def runs():
    """The check runs grading would make for two layer types (the snapshot mode, to stay quick)."""
    return {"conv": check_layer(str(BUGGY), "conv", modes=["snapshot"]),
            "relu": check_layer(str(CORRECT), "relu", modes=["snapshot"])}


def report_of(runs, student: str = "amy") -> dict:
    """report.json as harness/grading.py writes it (grade_one's bookkeeping), plus a missing layer type."""
    grade = Grade(student, folder="amy", seed=0)
    for kind, run in runs.items():
        counts = run.counts()
        grade.passed += counts["passed"] + counts["unsupported"]
        grade.total += len(run.results)
        cell, reason, _ = judge(run, SimpleNamespace(timed_out=None))  # a worker never killed by --timeout
        grade.cells[kind], grade.reports[kind] = cell, run.to_dict()
        if reason:
            grade.reasons[kind] = reason
    grade.cells["pool"], grade.reasons["pool"] = "missing", f"nothing in {BUGGY.name} implements MaxPool2d"
    report = json.loads(report_json(grade, Submission(student, BUGGY)))
    for key in ("points", "max_points", "total_points", "max_total_points"):  # the page must not rely on them
        report.pop(key, None)
    return report


def section(page: str, kind: str) -> str:
    found = re.search(rf'<section id="{kind}">(.*?)</section>', page, re.S)
    assert found, f"no section for {kind}"
    return found.group(1)


def summary_row(page: str, kind: str) -> str:
    found = re.search(rf'<tr><td><a href="#{kind}">.*?</tr>', page)
    assert found, f"no summary row for {kind}"
    return found.group(0)


def numbers_of(document: dict) -> set[str]:
    """Every number of a type's rows, as the page would print it and as JSON holds it (of four characters or
    more: "1", a relative error of 1.0, is also in a cause's "1/256")."""
    found = set()
    for row in document["results"]:
        for key in ("max_abs_err", "max_rel_err", "actual_at_worst", "expected_at_worst", "noise_floor"):
            value = row.get(key)
            if isinstance(value, float) and value != 0.0:
                found |= {f"{value:.3g}", repr(value)}
    return {n for n in found if len(n) >= 4}


def test_a_failing_type_shows_its_first_failure_its_cause_and_the_repro(runs):
    report = report_of(runs)
    page = student_report_html(report, DEFAULT_RUBRIC)
    conv = section(page, "conv")
    first = runs["conv"].first_failure
    assert (first.layer, first.tensor) == ("conv2", "grad_bias")
    assert ">fail<" in summary_row(page, "conv") and ">fail<" in conv
    assert html.escape(first.likely().hint) in conv  # the likely cause, in the reason and in the failing rows
    assert html.escape(report["reasons"]["conv"]) in conv
    assert "run: <code>pytest repro/</code>" in conv
    worst = first.comparison
    assert f"expected {worst.expected_at_worst:.3g}" in conv and f"max abs {worst.max_abs_err:.3g}" in conv
    assert "<td>snapshot</td><td>float32, float64</td><td>16</td><td>12</td><td>4</td>" in conv  # per-mode summary
    assert "<code>conv1.output</code> (snapshot)" in conv  # what passed


def test_a_passing_type_shows_pass_and_what_held(runs):
    page = student_report_html(report_of(runs), DEFAULT_RUBRIC)
    relu = section(page, "relu")
    assert runs["relu"].passed
    assert ">pass<" in summary_row(page, "relu") and ">pass<" in relu
    assert "repro" not in relu and "What went wrong" not in relu
    assert "16 passed, 0 failed, 0 unsupported of 16 checks" in relu
    assert "<code>relu1.grad_input</code> (snapshot)" in relu
    missing = section(page, "pool")
    assert ">missing<" in missing and "implements MaxPool2d" in missing and "repro" not in missing


def test_a_hidden_type_shows_only_its_first_failures_layer_and_cause(runs):
    report = report_of(runs)
    report["points"] = {"conv": 5.0, "relu": 10.0, "pool": 0.0}  # as grading writes them
    report["max_points"] = {"conv": 10.0, "relu": 10.0, "pool": 10.0}
    report["total_points"], report["max_total_points"] = 15.0, 30.0
    page = student_report_html(report, DEFAULT_RUBRIC)
    assert "<td>5 / 10</td>" in summary_row(page, "conv") and "<td>10 / 10</td>" in summary_row(page, "relu")
    assert "Total: 15 of 30 points" in page


@pytest.mark.parametrize("cell", list(CELL_COLOURS))
def test_every_cell_is_shown_with_its_reason(cell):
    report = {"student": "amy", "file": "amy.py", "seed": 0, "cells": {"conv": cell},
              "reasons": {"conv": f"why it is {cell}"}, "reports": {}}
    page = student_report_html(report, DEFAULT_RUBRIC)
    assert f">{html.escape(cell)}<" in summary_row(page, "conv") and f"why it is {cell}" in section(page, "conv")


def test_a_students_text_is_escaped_and_capped(runs):
    report = report_of(runs, student=HOSTILE)
    report["file"] = f"/class/{HOSTILE}.py"
    report["reasons"]["pool"] = HOSTILE
    report["cells"]["loss"], report["reasons"]["loss"] = "error", f"SyntaxError: {HOSTILE}"
    lines = [f"line {i} {HOSTILE}" for i in range(100)]
    text = "\n".join(lines) + "\x1b[31m red \x00 \ud800"
    report["reports"]["relu"]["printed"] = {"bytes": len(text), "text": text}
    report["reports"]["conv"]["results"][4]["error"] = HOSTILE  # a crash message in a failing row
    rubric = Rubric({**DEFAULT_RUBRIC.types, "loss": TypeRule(visibility="hidden")})
    page = student_report_html(report, rubric)
    page.encode("utf-8")  # a lone surrogate cannot make the file unwritable
    for raw in ("<script", "<img", "</pre></section>", "\x1b", "\x00"):
        assert raw not in page
    escaped = html.escape(HOSTILE)
    assert f"<title>lenet-parity report: {escaped}</title>" in page
    assert escaped in section(page, "pool") and escaped in section(page, "loss")
    printed = re.search(r"<pre>(.*?)</pre>", section(page, "relu"), re.S).group(1)
    assert "line 0 " in printed and "line 99 " in printed and "line 50 " not in printed  # first and last lines
    assert "[... 60 lines ...]" in printed and "Your code printed" in section(page, "relu")


class Tags(HTMLParser):
    """Every tag and attribute of a page, and whether the non-void ones close in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.ids, self.stack, self.unbalanced = [], [], set(), [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        self.ids |= {value for name, value in attrs if name == "id"}
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.unbalanced.append(tag)


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("student", ["amy", HOSTILE])
def test_the_page_parses_and_stands_alone(runs, hidden, student):
    report = report_of(runs, student=student)
    rubric = Rubric({**DEFAULT_RUBRIC.types, "conv": TypeRule(visibility="hidden")}) if hidden else DEFAULT_RUBRIC
    page = student_report_html(report, rubric)
    parser = Tags()
    parser.feed(page)
    parser.close()
    assert parser.tags[:2] == ["html", "head"] and "body" in parser.tags
    assert not parser.unbalanced and not parser.stack
    assert not {"script", "link", "img", "iframe", "object", "embed", "base"} & set(parser.tags)
    names = {name for name, _ in parser.attrs}
    assert "src" not in names and not [name for name in names if name.startswith("on")]
    hrefs = [value for name, value in parser.attrs if name == "href"]
    assert hrefs and all(h.startswith("#") and h[1:] in parser.ids for h in hrefs)  # links stay on the page
    for outside in ("http://", "https://", "url(", "@import"):
        assert outside not in page
    assert student == HOSTILE or "src=" not in page  # the hostile name holds "src=" as escaped text
