"""The class's gradebook (gradebook.csv, .json, .html) and each student's extra files (report.html and, with
--gradescope, Gradescope's results.json), all written from the grades and the rubric they were graded by."""

from __future__ import annotations

import csv
import html
import importlib
import io
import json
from pathlib import Path
from typing import Any, Callable

from lenet_parity.atomic import write_new_file
from lenet_parity.harness.grade_record import Grade
from lenet_parity.harness.rubric import DEFAULT_RUBRIC, Rubric
from lenet_parity.versions import versions

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula (OWASP)
COLOURS = {"pass": "#d1f7d6", "pass*": "#e9f7c8", "fail": "#ffd6d6", "timeout": "#ffe0b8", "unsupported": "#e3ecff",
           "missing": "#eeeeee", "error": "#ffe9a8"}
STUDENT_EXTRAS = ("report.html", "results.json")  # made again from report.json on every run, kept students too


def csv_cell(value: Any) -> Any:
    """A cell as a spreadsheet must read it: text starting with = + - @, tab or CR (a formula to Excel, LibreOffice
    and Sheets) behind a single quote, the rule OWASP gives against CSV injection; our numbers stay numbers."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_gradebook(grades: list[Grade], out: Path, *, rubric: Rubric = DEFAULT_RUBRIC,
                    run: dict[str, Any] | None = None) -> None:
    """gradebook.csv/.json/.html written new into ``out`` (grade()'s scratch folder), one row per student in the
    rubric's order of layer types, each naming its student's own report; ``run``: what the class was graded with
    (grade_resume.run_keys), for a later --resume."""
    grades = sorted(grades, key=lambda g: (g.student, g.folder))
    kinds = list(rubric.types)
    buffer = io.StringIO()
    # every text quoted: a CR in a name would otherwise end the row early (the terminator is a bare LF)
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["student", *kinds, "checks_passed", "checks_total", "points", "max_points", "score", "report",
                     "seed"])
    for g in grades:
        writer.writerow([csv_cell(v) for v in (g.student, *(g.cells.get(k, "error") for k in kinds), g.passed,
                                               g.total, g.total_points, g.max_total_points, g.score, g.report_path,
                                               g.seed)])
    document = {"run": run or {}, "versions": versions(), "seeds": sorted({g.seed for g in grades}),
                "rubric": {"source": rubric.source, "digest": rubric.digest(), "max_points": rubric.max_points},
                "grades": [g.summary() for g in grades]}
    files = {"gradebook.csv": buffer.getvalue(), "gradebook.html": _html(grades, kinds),
             "gradebook.json": json.dumps(document, indent=1) + "\n"}
    for name, text in files.items():
        write_new_file(out / name, text.encode())


def _html(grades: list[Grade], kinds: list[str]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in kinds)
    rows = []
    for g in grades:
        cells = "".join(f'<td style="background:{COLOURS.get(g.cells.get(k, "error"), "#ffffff")}" '
                        f'title="{html.escape(g.reasons.get(k, ""))}">{html.escape(g.cells.get(k, "error"))}</td>'
                        for k in kinds)
        rows.append(f'<tr><td><a href="{html.escape(g.report_path)}">{html.escape(g.student)}</a></td>{cells}'
                    f"<td>{g.passed}/{g.total}</td><td>{g.total_points:g}/{g.max_total_points:g}</td>"
                    f"<td>{g.score:.2f}</td></tr>")
    seeds = ", ".join(str(seed) for seed in sorted({g.seed for g in grades}))
    return (f"<!doctype html><meta charset=utf-8><title>gradebook</title><table border=1 cellpadding=4>"
            f"<caption>the sweep's random inputs drawn with seed {seeds}</caption>"
            f"<tr><th>student</th>{head}<th>checks</th><th>points</th><th>score</th></tr>{''.join(rows)}</table>\n")


def optional(module: str, name: str) -> Callable | None:
    """``module.name`` when that module is installed, else None (written by others: report.html, Gradescope's
    results.json); an error inside a module that exists is not hidden."""
    try:
        return getattr(importlib.import_module(f"lenet_parity.harness.{module}"), name)
    except ModuleNotFoundError as exc:
        if exc.name != f"lenet_parity.harness.{module}":
            raise
        return None


def student_extras(grade: Grade, report: bytes, rubric: Rubric, *, gradescope: bool) -> dict[str, bytes]:
    """A student's report.html (harness/student_report.py) and, with --gradescope, results.json
    (harness/gradescope.py), each when its module is there."""
    files = {}
    if (page := optional("student_report", "student_report_html")) is not None:
        files["report.html"] = page(json.loads(report), rubric).encode()
    if gradescope and (results := optional("gradescope", "results_document")) is not None:
        files["results.json"] = (json.dumps(results(grade, rubric), indent=1) + "\n").encode()
    return files
