"""One student's report.json as a self-contained HTML page a teacher can hand back (inline CSS, no script, no
external file): each layer type's cell, points, what passed, what failed and its likely cause, the repro folder.
A type the rubric marks ``hidden`` shows only its first failure's layer and likely cause, never a number."""

from __future__ import annotations

import html
import math
import re
from typing import Any

from lenet_parity.harness.rubric import DEFAULT_RUBRIC, Rubric

CELL_COLOURS = {"pass": "#d1f7d6", "pass*": "#e9f7c8", "fail": "#ffd6d6", "timeout": "#ffe0b8",
                "unsupported": "#e3ecff", "missing": "#eeeeee", "error": "#ffe9a8"}  # the gradebook's, and timeout
MAX_FAILED_ROWS = 20  # failing rows listed per layer type; report.json holds them all
MAX_REASON = 2000  # characters of a reason (a student's exception message can be any length)
PRINTED_LINES = 20  # of the start and of the end of what the student's code printed
PRINTED_LINE_CHARS = 200
REPRO = "repro/"  # beside report.json: grading writes a failing type's tests there (for a one-file submission)

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;
vertical-align:top}th{background:#f6f8fa}.cell{font-weight:bold}pre{background:#f6f8fa;padding:.5rem;
overflow-x:auto;white-space:pre-wrap}.cause{background:#fff8c5;padding:.25rem .5rem}.meta{color:#57606a}
section{border-top:1px solid #d0d7de;margin-top:1.5rem}"""

_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # control characters, lone surrogates


def _e(value: Any) -> str:
    """Any text from the report, escaped for HTML: a control character or lone surrogate (a terminal escape, a
    NUL, text that cannot be written as UTF-8) becomes U+FFFD."""
    return html.escape(_NOT_TEXT.sub("\ufffd", str(value)), quote=True)


def _capped(text: Any, limit: int = MAX_REASON) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit:,} more characters]"


def _num(value: Any) -> str:
    """A number as the report shows it (3 significant digits); "inf"/"nan" strings as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else _e(value)
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def _points(report: dict, kind: str, rubric: Rubric) -> tuple[float, float] | None:
    """(earned, max) of a layer type as report.json has them (``points[kind]``, ``max_points[kind]``, else the
    rubric's); None for a report without points (written before rubrics)."""
    earned, most = report.get("points"), report.get("max_points")
    earned = earned.get(kind) if isinstance(earned, dict) else None
    most = most.get(kind) if isinstance(most, dict) else None
    if not _is_number(earned):
        return None
    rule = rubric.types.get(kind)
    return float(earned), float(most if _is_number(most) else rule.points if rule else 0.0)


def _total(report: dict, kinds: list[str], hidden: set[str], rubric: Rubric) -> str:
    """The points line: report.json's ``total_points`` of ``max_total_points``, or (with hidden types, whose points
    are not shown) the visible types' sum; the checks passed when the report has no points."""
    shown = [p for k in kinds if k not in hidden for p in [_points(report, k, rubric)]]
    if hidden:
        if not shown or None in shown:
            return f"points of {len(hidden)} hidden layer type(s) are not shown here"
        return (f"{sum(p[0] for p in shown):g} of {sum(p[1] for p in shown):g} points in the layer types shown "
                f"in full ({len(hidden)} hidden layer type(s) not counted here)")
    if _is_number(report.get("total_points")) and _is_number(report.get("max_total_points")):
        return f"{report['total_points']:g} of {report['max_total_points']:g} points"
    if _is_number(report.get("checks_total")):
        return f"{report.get('checks_passed', 0)} of {report['checks_total']} checks passed"
    return ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(cell: str) -> str:
    return f'<span class="cell" style="background:{CELL_COLOURS.get(cell, "#eeeeee")}">{_e(cell)}</span>'


def _cause_of(document: dict | None, reason: str) -> tuple[str, str]:
    """(layer, likely cause) of a type's first failure, without a number of the comparison: for a hidden type.
    A type with no check run (missing, error, timeout before any row) has its reason, which holds no values."""
    first = (document or {}).get("first_failure")
    if first:
        diagnosis = first.get("diagnosis") or {}
        return first.get("layer", ""), f"{diagnosis.get('hint', '')} [{diagnosis.get('code', 'unknown')}]"
    return "", reason


def _hidden_section(cell: str, document: dict | None, reason: str) -> list[str]:
    out = [f"<p>Result: {_cell(cell)}. The details of this layer type are hidden by the course's rubric.</p>"]
    if cell not in ("pass", "pass*", "unsupported"):
        layer, cause = _cause_of(document, reason)
        where = f"First failure in layer <code>{_e(layer)}</code>. " if layer else ""
        out.append(f'<p class="cause">{where}Likely cause: {_e(_capped(cause))}</p>')
    return out


def _mode_table(rows: list[dict]) -> list[str]:
    """Per mode: the checks, how many passed, failed, unsupported, warned, and the first failure in it."""
    out = ["<table><tr><th>mode</th><th>dtypes</th><th>checks</th><th>passed</th><th>failed</th>"
           "<th>unsupported</th><th>warnings</th><th>first failure</th></tr>"]
    for mode in dict.fromkeys(r.get("mode", "") for r in rows):
        mine = [r for r in rows if r.get("mode", "") == mode]
        status = [r.get("status") for r in mine]
        failed = next((r for r in mine if r.get("status") == "failed"), None)
        first = f"{failed.get('layer')}.{failed.get('tensor')}" if failed else ""
        dtypes = ", ".join(dict.fromkeys(str(r.get("dtype", "")) for r in mine))
        out.append(f"<tr><td>{_e(mode)}</td><td>{_e(dtypes)}</td><td>{len(mine)}</td>"
                   f"<td>{status.count('passed') + status.count('warning')}</td><td>{status.count('failed')}</td>"
                   f"<td>{status.count('unsupported')}</td><td>{status.count('warning')}</td><td>{_e(first)}</td></tr>")
    return out + ["</table>"]


def _passed_list(rows: list[dict]) -> list[str]:
    """Each layer.tensor that held, with the modes it held in (every row of it in that mode passed)."""
    held: dict[str, list[str]] = {}
    for key in dict.fromkeys((r.get("layer"), r.get("tensor"), r.get("mode")) for r in rows):
        mine = [r for r in rows if (r.get("layer"), r.get("tensor"), r.get("mode")) == key]
        if all(r.get("status") in ("passed", "warning") for r in mine):
            held.setdefault(f"{key[0]}.{key[1]}", []).append(str(key[2]))
    if not held:
        return ["<p>Nothing passed.</p>"]
    items = "".join(f"<li><code>{_e(name)}</code> ({_e(', '.join(modes))})</li>" for name, modes in held.items())
    return [f"<details><summary>What passed ({len(held)} layer tensors)</summary><ul>{items}</ul></details>"]


def _failed_table(rows: list[dict]) -> list[str]:
    """The failing rows: what went wrong, the worst element (got vs expected) and the likely cause."""
    failed = [r for r in rows if r.get("status") == "failed"]
    if not failed:
        return []
    out = ["<table><tr><th>layer</th><th>tensor</th><th>mode</th><th>dtype</th><th>what</th>"
           "<th>worst element</th><th>likely cause</th></tr>"]
    for r in failed[:MAX_FAILED_ROWS]:
        if r.get("error"):
            what = _capped(r["error"], 300)
        elif r.get("finding"):
            what = _capped(r["finding"], 300)
        elif r.get("max_abs_err") is not None:
            what = (f"{r.get('mismatched')}/{r.get('numel')} mismatched, max abs {_num(r['max_abs_err'])} "
                    f"(atol {_num(r.get('atol'))}), max rel {_num(r.get('max_rel_err'))} (rtol {_num(r.get('rtol'))})")
        else:
            what = str(r.get("reason") or "failed")
        worst = ""
        if r.get("worst_index") is not None and r.get("expected_at_worst") is not None:
            worst = (f"at {tuple(r['worst_index'])}: got {_num(r.get('actual_at_worst'))}, "
                     f"expected {_num(r['expected_at_worst'])}")
        diagnosis = r.get("diagnosis") or {}
        cause = f"{diagnosis.get('hint', '')} [{diagnosis.get('code', '')}]" if diagnosis else ""
        case = f" ({r['case']})" if r.get("case") else ""
        out.append(f"<tr><td>{_e(r.get('layer', ''))}</td><td>{_e(r.get('tensor', ''))}</td>"
                   f"<td>{_e(str(r.get('mode', '')) + case)}</td><td>{_e(r.get('dtype', ''))}</td><td>{_e(what)}</td>"
                   f"<td>{_e(worst)}</td><td>{_e(cause)}</td></tr>")
    out.append("</table>")
    if len(failed) > MAX_FAILED_ROWS:
        out.append(f"<p>... and {len(failed) - MAX_FAILED_ROWS} more failing checks (report.json lists them all).</p>")
    return out


def _printed(document: dict) -> list[str]:
    """What the student's code printed while this type was checked: the first and last lines, capped."""
    printed = document.get("printed") or {}
    text = printed.get("text") or ""
    if not printed.get("bytes") and not text:
        return []
    lines = [line[:PRINTED_LINE_CHARS] for line in str(text).splitlines()]
    if len(lines) > 2 * PRINTED_LINES:
        lines = [*lines[:PRINTED_LINES], f"[... {len(lines) - 2 * PRINTED_LINES} lines ...]", *lines[-PRINTED_LINES:]]
    return [f"<p>Your code printed {_e(printed.get('bytes', len(text)))} bytes (first and last lines):</p>",
            f"<pre>{_e(chr(10).join(lines))}</pre>"]


def _visible_section(kind: str, cell: str, document: dict | None, reason: str, file: str) -> list[str]:
    out = [f"<p>Result: {_cell(cell)}</p>"]
    if reason:
        label = "Warnings" if cell == "pass*" else "What went wrong"
        out.append(f'<p class="cause">{label}: {_e(_capped(reason))}</p>')
    if document is None:
        return out
    if cell in ("fail", "timeout") and not document.get("passed", True) and file.endswith(".py"):
        out.append(f"<p>To reproduce the failure on your machine: the folder <code>{REPRO}</code> beside this "
                   f"page holds a test and its data; run: <code>pytest {REPRO}</code></p>")
    rows = document.get("results") or []
    counts = document.get("counts") or {}
    if rows:
        out.append(f"<p>{_e(counts.get('passed', 0))} passed, {_e(counts.get('failed', 0))} failed, "
                   f"{_e(counts.get('unsupported', 0))} unsupported of {len(rows)} checks.</p>")
        out += _mode_table(rows) + _failed_table(rows) + _passed_list(rows)
    notes = document.get("notes") or []
    if notes:
        out.append("<details><summary>Notes</summary><ul>" + "".join(f"<li>{_e(_capped(n, 500))}</li>"
                                                                     for n in notes) + "</ul></details>")
    return out + _printed(document)


def student_report_html(report: dict, rubric: Rubric | None = None) -> str:
    """The page for one student's report.json (``rubric``: the one it was graded with; None, the default)."""
    rubric = rubric or DEFAULT_RUBRIC
    cells = report.get("cells") or {}
    reasons = report.get("reasons") or {}
    reports = report.get("reports") or {}
    kinds = [k for k in rubric.types if k in cells] + [k for k in cells if k not in rubric.types]
    hidden = {k for k in kinds if k in rubric.types and rubric.types[k].visibility == "hidden"}
    student, file = str(report.get("student", "")), str(report.get("file", ""))
    head = ["<tr><th>layer type</th><th>result</th><th>points</th></tr>"]
    sections = []
    for kind in kinds:
        cell, reason, document = str(cells[kind]), str(reasons.get(kind, "")), reports.get(kind)
        points = _points(report, kind, rubric)
        shown = "hidden" if kind in hidden else f"{points[0]:g} / {points[1]:g}" if points else ""
        head.append(f'<tr><td><a href="#{_e(kind)}">{_e(kind)}</a></td><td>{_cell(cell)}</td><td>{_e(shown)}</td></tr>')
        body = (_hidden_section(cell, document, reason) if kind in hidden
                else _visible_section(kind, cell, document, reason, file))
        sections.append(f'<section id="{_e(kind)}"><h2>{_e(kind)}</h2>\n' + "\n".join(body) + "\n</section>\n")
    total = _total(report, kinds, hidden, rubric)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>lenet-parity report: {_e(student)}'
            f"</title>\n<style>{_CSS}</style></head>\n<body>\n"
            f"<h1>lenet-parity report: {_e(student)}</h1>"
            f'<p class="meta">file: <code>{_e(file)}</code>; seed of the random inputs: {_e(report.get("seed", ""))}; '
            f"graded with {_e(rubric.source)}</p>\n"
            + (f"<p><strong>Total: {_e(total)}</strong></p>\n" if total else "")
            + "<table>" + "\n".join(head) + "</table>\n" + "".join(sections) + "</body></html>\n")
