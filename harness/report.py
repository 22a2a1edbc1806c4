"""Reports of a check run: the terminal table (colour, first failure named), --json and --junit files."""

from __future__ import annotations

import json
import os
import re
from xml.etree import ElementTree as ET

from lenet_parity.harness.ansi import style

from lenet_parity.atomic import atomic_write_text
from lenet_parity.harness.results import ABSENT_CLASS, CheckResult, CheckRun
from lenet_parity.vocabulary import DTYPES, MODES, NETWORK, TENSORS


MAX_DETAILS = 12  # failures explained in full at the end; the rest are in the table, --json and -v


def _cell(results: list[CheckResult]) -> str:
    """One matrix cell: ok / FAIL / n/a for the results of one layer x tensor x mode x dtype (all its cases); n/a
    when nothing in it was checked (every row unsupported), as -v marks such rows."""
    if not results:
        return " " * 4
    if not all(r.passed for r in results):
        return style("FAIL", fg="red", bold=True)
    if all(r.status == "unsupported" for r in results):
        return style("n/a ", fg="yellow")
    return style("ok  ", fg="green")


def _matrix(run: CheckRun) -> list[str]:
    """A row per layer x tensor, a column per mode and dtype: pass or fail at a glance."""
    columns = [(m, d) for m in MODES for d in DTYPES
               if any(r.mode == m and r.dtype == d for r in run.results)]
    columns += sorted({(r.mode, r.dtype) for r in run.results} - set(columns))
    layers = list(dict.fromkeys(r.layer for r in run.results if r.origin != NETWORK))  # first appearance: forward order
    network = list(dict.fromkeys(r.layer for r in run.results if r.origin == NETWORK))
    cells: dict[tuple, list[CheckResult]] = {}
    for r in run.results:
        cells.setdefault((r.layer, r.tensor, r.mode, r.dtype), []).append(r)
    modes = list(dict.fromkeys(m for m, _ in columns))
    width = max([12, *(len(layer) for layer in layers + network)])  # Conv2d(2, 5, k=(3, 2), s=(2, 1), p=(1, 2))
    top = f"{'layer':{width}} {'tensor':14} " + " ".join(f"{m:<{10 * sum(c[0] == m for c in columns) - 1}}"
                                                         for m in modes)
    sub = f"{'':{width}} {'':14} " + " ".join(f"{d.replace('float', 'f'):<4}{'':5}" for _, d in columns)
    lines = [style(top.rstrip(), bold=True), style(sub.rstrip(), bold=True)]
    for layer in layers + network:
        if layer == (network or [None])[0]:
            lines.append(style("network rows (the model's output with the checked layers swapped in; not a layer "
                               "under check):", bold=True))
        tensors = list(dict.fromkeys(r.tensor for r in run.results if r.layer == layer))
        tensors.sort(key=lambda t: TENSORS.index(t) if t in TENSORS else len(TENSORS))
        for tensor in tensors:
            row = " ".join(f"{_cell(cells.get((layer, tensor, m, d), []))}{'':5}" for m, d in columns)
            lines.append(f"{layer:{width}} {tensor:14} {row}".rstrip())
    return lines


def _detail(r: CheckResult) -> list[str]:
    """A failure in full: where and what, and for values the worst element and the tolerance that would pass."""
    lines = [style(f"FAIL {r.describe()}", fg="red")]
    c = r.comparison
    if r.error is None and c is not None and c.reason in ("values", "nonfinite"):
        would_pass = f"; would pass with atol >= {c.min_atol_to_pass:.3g}" if c.reason == "values" else ""
        lines.append(f"     worst at {c.worst_index}: got {c.actual_at_worst!r}, expected {c.expected_at_worst!r}{would_pass}")
    if r.noise_multiple is not None:
        lines.append(f"     error = {r.noise_multiple:.3g}x the float32 noise floor ({r.noise_floor:.2g}: torch float32 vs "
                     f"float64 here; ~1 is rounding, 1e3 and more a bug)")
    if (cause := r.cause()) is not None:
        lines.append(style(f"     likely: {cause.hint} [{cause.code}]", fg="yellow"))
    return lines


def _details(run: CheckRun) -> list[str]:
    """The first failure of each mode x layer x tensor in full (up to MAX_DETAILS)."""
    causes = [r for r in run.failures if not (r.error or "").startswith("not run")]  # the matrix shows the rest
    firsts = list({(r.mode, r.layer, r.tensor): r for r in reversed(causes)}.values())
    firsts.sort(key=run.results.index)
    lines = [line for r in firsts[:MAX_DETAILS] for line in _detail(r)]
    hidden = len(run.failures) - min(len(firsts), MAX_DETAILS)
    if hidden:
        lines.append(f"... and {_plural(hidden, 'more failure')} (-v lists every row, --json writes them all)")
    return lines


def _row(r: CheckResult) -> str:
    """One result on one line, for --verbose."""
    if r.status == "unsupported":
        mark = style("n/a ", fg="yellow")
    elif r.status == "warning":
        mark = style("warn", fg="yellow")
    else:
        mark = style("ok  ", fg="green") if r.passed else style("FAIL", fg="red", bold=True)
    head = f"{mark} {r.mode:8} {r.dtype:7} {r.layer:10} {r.tensor:12}"
    c = r.comparison
    if r.status == "unsupported":
        detail = style(f"unsupported: {r.unsupported}", fg="yellow")
    elif r.error:
        detail = style(r.error, fg="red")
    elif c is None:  # a check without numbers (the state mode's): what it found, or that it held
        detail = r.finding or (style(f"warning: {r.warning}", fg="yellow") if r.warning else "held")
    elif c.reason in ("shape", "dtype"):
        actual, expected = (c.shape_actual, c.shape_expected) if c.reason == "shape" else (c.dtype_actual, c.dtype_expected)
        detail = f"{c.reason} {actual} != expected {expected}"
    else:
        detail = (f"{c.max_abs_err:10.3g} {c.max_rel_err:10.3g} {c.mismatched:>6}/{c.numel:<6} "
                  f"atol {c.atol:g} rtol {c.rtol:g}")
    return f"{head} {detail}" + (f"  ({r.case})" if r.case else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _warnings(run: CheckRun) -> list[str]:
    """Deviations that change no value (harness/warnings_policy.py), each listed once: not failures (--strict
    makes them so)."""
    seen: dict[str, CheckResult] = {}
    for r in run.warnings:
        seen.setdefault(f"{r.checked_layer}.{r.tensor}: {r.warning}", r)
    if not seen:
        return []
    head = style(f"warnings: {_plural(len(run.warnings), 'check')} found a deviation that changes no value (each "
                 f"listed once), not counted as failures (--strict makes them failures)", fg="yellow")
    return [head] + [f"  {line}" for line in seen]


def _unsupported(run: CheckRun) -> list[str]:
    """What was not checked, each listed once: the configurations a layer declines (a row per dtype and tensor in
    the counts) and the variant layers whose class a whole file lacks. Allowed under --scope lenet; listed so
    nobody is fooled, the head counting both the checks (as the summary does) and the things listed."""
    rows = run.unsupported
    seen: dict[str, CheckResult] = {}
    for r in rows:
        seen.setdefault(f"{r.layer}{'' if r.layer == r.checked_layer else f' (for {r.checked_layer})'}: "
                        f"{r.unsupported}", r)
    if not seen:
        return []
    lacking = sum(r.tensor == ABSENT_CLASS for r in seen.values())
    things = [_plural(lacking, "variant layer") + " whose class the file lacks"] if lacking else []
    things += [_plural(len(seen) - lacking, "configuration")] if len(seen) > lacking else []
    head = style(f"unsupported: {_plural(len(rows), 'check')} of {' and '.join(things)} beyond what LeNet needs "
                 f"(each listed once), not counted as failures (--scope torch requires what a layer declines)",
                 fg="yellow")
    return [head] + [f"  {line}" for line in seen]


def terminal_report(run: CheckRun, *, verbose: bool = False) -> str:
    """All passed: the notes and one summary line (verbose: every row too). A failure: the layer x tensor
    matrix, the failures in full, and the first failure named last."""
    lines = []
    if verbose:
        header = f"{'':4} {'mode':8} {'dtype':7} {'layer':10} {'tensor':12} {'max abs':>10} {'max rel':>10} {'mismatched':>13}  tolerance"
        lines += [style(header, bold=True)] + [_row(r) for r in run.results]
    if not run.passed and run.results:
        if verbose:
            lines.append("")
        lines += _matrix(run) + [""] + _details(run)
    lines += [style(f"note: {n}", fg="yellow") for n in run.notes]
    lines += _printed(run)
    lines += _warnings(run)
    lines += _unsupported(run)
    counts = run.counts()
    layers = len({r.checked_layer for r in run.results if r.origin != NETWORK} | set(run.layers))
    modes = ", ".join(dict.fromkeys(r.mode for r in run.results if r.mode in MODES)) or "none"
    dtypes = ", ".join(dict.fromkeys(r.dtype for r in run.results if r.dtype in DTYPES)) or "none"
    unsupported = f", {counts['unsupported']} unsupported" if counts["unsupported"] else ""
    summary = (f"{counts['passed']} passed, {counts['failed']} failed{unsupported} ({_plural(layers, 'layer')}, "
               f"{_plural(len(run.results), 'check')}; modes {modes}; {dtypes})")
    if run.passed:
        warned = f" with {_plural(counts['warnings'], 'warning')}" if counts["warnings"] else ""
        lines.append(style(f"PASS{warned}  {summary}", fg="green", bold=True))
    else:
        lines.append(style(f"FAIL  {summary}", fg="red", bold=True))
        first = run.first_failure
        if first is not None:
            lines.append(style(f"first failure: {first.describe()}", fg="red", bold=True))
            if (cause := first.cause()) is not None:
                lines.append(style(f"likely cause: {cause.hint} [{cause.code}]", fg="red", bold=True))
        else:
            lines.append(style("nothing was checked", fg="red", bold=True))
    return "\n".join(lines)


_PRINTED_LINES = 12  # of the start and of the end of what a layer printed, on the terminal (--json: all kept)


def _printed(run: CheckRun) -> list[str]:
    """What the layer printed, under the verdict's notes: its first and last lines, and how much there was."""
    if not run.printed_bytes:
        return []
    lines = run.printed.splitlines()
    if len(lines) > 2 * _PRINTED_LINES:
        lines = [*lines[:_PRINTED_LINES], f"[... {len(lines) - 2 * _PRINTED_LINES} lines ...]", *lines[-_PRINTED_LINES:]]
    return ([style(f"the layer printed {run.printed_bytes:,} bytes:", fg="yellow")]
            + [f"  | {_printable(line[:200])}" for line in lines])


def _printable(text: str) -> str:
    """A user's text with control characters (a terminal's escape sequences) shown as ``?``."""
    return "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in text)


def json_text(run: CheckRun, *, meta: dict | None = None) -> str:
    """The run as the --json document: every result, the first failure, the notes, and ``meta``."""
    document = run.to_json()
    if meta:
        document["meta"] = meta
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def write_json(run: CheckRun, path: str | os.PathLike, *, meta: dict | None = None) -> None:
    atomic_write_text(path, json_text(run, meta=meta))


def _xml_text(text: str) -> str:
    """Text XML 1.0 can hold: a layer's own error message may carry control characters (an ANSI colour, a NUL) or
    lone surrogates, which would make the whole file unreadable; each becomes U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write_junit(run: CheckRun, path: str | os.PathLike, *, suite: str = "lenet-parity") -> None:
    """JUnit XML: a test case per row (layer x tensor x mode x dtype x case), a testsuite per mode x dtype. A failed
    row carries the row in full, an unsupported one is skipped; every row is described by what it holds (a state
    check, a crash or a declined configuration has no comparison), so the counts are the --json document's."""
    counts = run.counts()
    root = ET.Element("testsuites", name=suite, tests=str(len(run.results)), failures=str(counts["failed"]))
    by_mode: dict[str, list] = {}
    for r in run.results:
        by_mode.setdefault(f"{r.mode}.{r.dtype}", []).append(r)
    for name, results in by_mode.items():
        ts = ET.SubElement(root, "testsuite", name=f"{suite}.{name}", tests=str(len(results)),
                           failures=str(sum(r.status == "failed" for r in results)),
                           skipped=str(sum(r.status == "unsupported" for r in results)))
        for r in results:
            case_name = f"{r.layer}.{r.tensor}" + (f" [{r.case}]" if r.case else "")
            tc = ET.SubElement(ts, "testcase", classname=_xml_text(f"{suite}.{name}.{r.layer}"),
                               name=_xml_text(case_name))
            if r.status == "failed":
                ET.SubElement(tc, "failure", message=_xml_text(r.describe())).text = _xml_text(r.report())
            elif r.status == "unsupported":
                ET.SubElement(tc, "skipped", message=_xml_text(r.describe()))
            elif r.status == "warning":
                ET.SubElement(tc, "system-out").text = _xml_text(r.describe())
            else:
                ET.SubElement(tc, "system-out").text = _xml_text(r.describe())
    ET.indent(root)
    atomic_write_text(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
