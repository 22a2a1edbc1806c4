"""Reports of a check run: the terminal table (colour, first failure named), --json and --junit files."""

from __future__ import annotations

import json
import os
from collections import Counter
from xml.etree import ElementTree as ET

import click

from lenet_parity.atomic import atomic_write_text
from lenet_parity.harness.results import CheckRun


def terminal_report(run: CheckRun, *, verbose: bool = False) -> str:
    """A row per layer x tensor when something failed (or with verbose); a summary line when all passed."""
    lines = []
    if verbose or not run.passed:
        header = f"{'':4} {'mode':8} {'dtype':7} {'layer':10} {'tensor':12} {'max abs':>10} {'max rel':>10} {'mismatch':>10}  tolerance"
        lines.append(click.style(header, bold=True))
        for r in run.results:
            if r.passed and not verbose:
                continue
            c = r.comparison
            mark = click.style("ok  ", fg="green") if r.passed else click.style("FAIL", fg="red", bold=True)
            if r.error:
                detail = click.style(r.error, fg="red")
                lines.append(f"{mark} {r.mode:8} {r.dtype:7} {r.layer:10} {r.tensor:12} {detail}")
                continue
            if c.reason in ("shape", "dtype"):
                detail = f"{c.reason}: {c.shape_actual if c.reason == 'shape' else c.dtype_actual} != expected " \
                         f"{c.shape_expected if c.reason == 'shape' else c.dtype_expected}"
                lines.append(f"{mark} {r.mode:8} {r.dtype:7} {r.layer:10} {r.tensor:12} {detail}")
                continue
            row = (f"{mark} {r.mode:8} {r.dtype:7} {r.layer:10} {r.tensor:12} {c.max_abs_err:10.3g} "
                   f"{c.max_rel_err:10.3g} {c.mismatched:>5}/{c.numel:<5} atol {c.atol:g} rtol {c.rtol:g}")
            if r.case:
                row += f"  ({r.case})"
            lines.append(row)
            if not r.passed:
                lines.append(f"{'':5}worst at {c.worst_index}: got {c.actual_at_worst!r}, expected {c.expected_at_worst!r}; "
                             f"would pass with atol >= {c.min_atol_to_pass:.3g}")
    counts = Counter(r.passed for r in run.results)
    layers = len({r.layer for r in run.results})
    summary = f"{counts[True]} passed, {counts[False]} failed ({layers} layers, {len(run.results)} tensor checks)"
    if run.passed:
        lines.append(click.style(f"PASS  {summary}", fg="green", bold=True))
    else:
        first = run.first_failure
        lines.append(click.style(f"FAIL  {summary}", fg="red", bold=True))
        lines.append(click.style(f"first failure: {first.describe()}", fg="red"))
    return "\n".join(lines)


def write_json(run: CheckRun, path: str | os.PathLike, *, meta: dict | None = None) -> None:
    document = run.to_json()
    if meta:
        document["meta"] = meta
    atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n")


def write_junit(run: CheckRun, path: str | os.PathLike, *, suite: str = "lenet-parity") -> None:
    """JUnit XML: a test case per layer x tensor (x mode x dtype), failures carry the full report."""
    failures = len(run.failures)
    root = ET.Element("testsuites", name=suite, tests=str(len(run.results)), failures=str(failures))
    by_mode: dict[str, list] = {}
    for r in run.results:
        by_mode.setdefault(f"{r.mode}.{r.dtype}", []).append(r)
    for name, results in by_mode.items():
        ts = ET.SubElement(root, "testsuite", name=f"{suite}.{name}", tests=str(len(results)),
                           failures=str(sum(not r.passed for r in results)))
        for r in results:
            case_name = f"{r.layer}.{r.tensor}" + (f" [{r.case}]" if r.case else "")
            tc = ET.SubElement(ts, "testcase", classname=f"{suite}.{name}.{r.layer}", name=case_name)
            if not r.passed:
                message = r.error or r.comparison.summary()
                failure = ET.SubElement(tc, "failure", message=message)
                failure.text = r.error or r.comparison.report()
            else:
                ET.SubElement(tc, "system-out").text = r.comparison.summary()
    ET.indent(root)
    atomic_write_text(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
