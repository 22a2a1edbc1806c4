"""``lenet-parity report``: one self-contained HTML file with the parity tables, the experiment tables and every figure.

Self-contained: CSS inline, images inlined as base64 data: URIs, no scripts, no external resources; the
file can be mailed or opened offline. Sections for inputs that do not exist yet name the command to run.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import subprocess
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_write_text
from lenet_parity.experiments import parity
from lenet_parity.experiments.figures import CHANCE_LEVEL, make_figures
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 0 24px 48px; color: #1d1d1f; background: #fff; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 40px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { margin: 24px 0 8px; } .meta { color: #666; font-size: 13px; }
nav a { margin-right: 14px; } code, pre { font: 13px ui-monospace, "SFMono-Regular", Menlo, monospace; }
pre { background: #f5f5f7; padding: 10px 12px; border-radius: 6px; overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d8d8dc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f0f3; } td.l, th.l { text-align: left; }
.pass { color: #137333; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; } .na { color: #888; }
.verdict { border-left: 5px solid #888; padding: 8px 14px; margin: 12px 0; background: #fafafa; }
.verdict.pass { border-color: #137333; } .verdict.fail { border-color: #b3261e; }
figure { margin: 18px 0 28px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; } .scroll { overflow-x: auto; }
summary { cursor: pointer; margin: 8px 0; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def num(value, digits: int = 4, scale: float = 1.0, std=None) -> str:
    if value is None:
        return '<span class="na">–</span>'
    text = f"{value * scale:.{digits}f}"
    return text + (f" ± {std * scale:.{digits}f}" if std is not None else "")


def table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """An HTML table; cells are HTML already (escape text before), the first ``left`` columns left-aligned."""
    head = "".join(f'<th class="{"l" if i < left else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def image(path: str | Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def figure_html(entry: dict[str, Any]) -> str:
    return (f'<figure id="fig-{esc(entry["name"].replace(" ", "-"))}"><h3>{esc(entry["title"])}</h3>'
            f'{image(entry["file"], entry["title"])}<figcaption>{esc(entry["caption"])}</figcaption></figure>')


def parity_section(documents: list[dict[str, Any]], figures: dict[str, dict]) -> str:
    if not documents:
        return "<p class=na>No parity results: give --check-json FILE or let the report run the checks.</p>"
    parts = []
    for i, document in enumerate(documents):
        name = parity.label(document)
        results = document["results"]
        passed = sum(r["passed"] for r in results)
        ok = bool(document.get("passed"))
        first = document.get("first_failure")
        line = (f"<b>{esc(name)}</b>: {'PASS' if ok else 'FAIL'}, {passed} of {len(results)} tensor checks passed"
                + (f"; first failure: {esc(first['layer'])}.{esc(first['tensor'])} [{esc(first['mode'])}, "
                   f"{esc(first['dtype'])}]" if first else ""))
        source = (document.get("meta") or {}).get("source", "")
        notes = "".join(f"<br>note: {esc(n)}" for n in document.get("notes") or [])
        parts.append(f'<div class="verdict {"pass" if ok else "fail"}">{line}{notes}<br>'
                     f'<span class=meta>{esc(source)}</span></div>')
        entry = figures.get(f"parity {name}")
        if entry:
            parts.append(figure_html(entry))
        panels, rows = parity.summary_rows(document)
        body = []
        for row in rows:
            cells = []
            for panel in panels:
                cell = row["cells"].get(panel)
                if cell is None:
                    cells.append('<span class="na">–</span>')
                    continue
                err = "error" if cell["worst_err"] is None else f"{cell['worst_err']:.2e}"
                cases = cell["cases"]
                if cell["failed"]:
                    mark = f'<span class="fail">✗ {cell["failed"]}/{cases}</span>'
                else:
                    mark = '<span class="pass">✓</span>' + (f" ×{cases}" if cases > 1 else "")
                cells.append(f"{err} {mark}")
            body.append([esc(row["layer"]), esc(row["tensor"]), *cells])
        parts.append(f"<details open><summary>Table: the worst max abs error per layer and tensor "
                     f"(×N: N cases, the worst shown)</summary>" + table(["layer", "tensor", *panels], body, left=2)
                     + "</details>")
        failures = [r for r in results if not r["passed"]]
        if failures:
            parts.append(f"<p>Failed checks ({len(failures)}), every case:</p>" + table(["layer", "tensor", "mode", "dtype", "case", "max abs err", "atol", "rtol", "error"],
                               [[esc(r["layer"]), esc(r["tensor"]), esc(r["mode"]), esc(r["dtype"]), esc(r.get("case", "")),
                                 *[esc(r[k]) if r.get(k) is not None else '<span class="na">–</span>'
                                   for k in ("max_abs_err", "atol", "rtol")], esc(r.get("error") or "")]
                                for r in failures], left=5))
    return "".join(parts)


def robustness_section(tables: dict[str, Any], figures: dict[str, dict]) -> str:
    table_rows, claim = tables.get("robustness"), tables.get("claim")
    if not table_rows:
        return ""
    parts = []
    sweep = tables.get("robustness_sweep") or {}
    if sweep.get("quick"):
        parts.append('<div class="verdict fail"><b>Quick settings</b> (2 epochs on 2,000 images): these numbers '
                     'check the pipeline, not the claim. For the real ones: lenet-parity experiment robustness.</div>')
    for kind, verdict in (claim or {}).get("families", {}).items():
        state = {True: "holds", False: "does not hold", None: "not tested"}[verdict["holds"]]
        css = {True: "pass", False: "fail", None: ""}[verdict["holds"]]
        parts.append(f'<div class="verdict {css}"><b>Claim for {"label corruption" if kind == "corrupt" else "pixel jitter"}: '
                     f'{state}.</b> {esc(verdict["why"])}</div>')
    if claim:
        parts.insert(0, f"<p>The claim: {esc(claim['claim'])}.</p>")
    rows = [[esc(r["variant"]), str(r["seeds"]), num(r["test_acc"], 2, 100, r["test_acc_std"]),
             num(r["test_acc_min"], 2, 100), num(r["val_loss"], 4, 1, r["val_loss_std"]),
             num(r["test_loss"], 4, 1, r["test_loss_std"]), num(r["ece"], 4, 1, r["ece_std"]),
             num(r["margin_mean"], 3), num(r["margin_median"], 4), num(r["margin_below_0.5"], 2, 100),
             num(r["epochs_run"], 1)] for r in table_rows]
    parts.append(table(["variant", "seeds", "test acc %", "min acc %", "val loss", "test loss", "ECE", "mean margin",
                        "median margin", "margin < 0.5 %", "epochs"], rows))
    runs = tables.get("robustness_runs") or []
    stuck = [r for r in runs if r["test_acc"] < CHANCE_LEVEL]  # training never took off
    if stuck:
        parts.append(f'<div class="verdict fail"><b>{len(stuck)} run(s) at chance level</b> ('
                     + ", ".join(f"{esc(r['name'])}: {100 * r['test_acc']:.2f}%" for r in stuck)
                     + "): the training loss stayed at ln 10 = 2.303 (uniform outputs) until early stopping ended the run on "
                       "that plateau. "
                       "They are included in the means and standard deviations above.</div>")
    if runs:
        parts.append("<details open><summary>Every run</summary>" + table(
            ["run", "test acc %", "val loss", "test loss", "ECE", "median margin", "epochs", "best epoch", "s / epoch"],
            [[esc(r["name"]), num(r["test_acc"], 2, 100), num(r["val_loss"]), num(r["test_loss"]), num(r["ece"]),
              num(r["margin_median"]), str(r["epochs_run"]), str(r["best_epoch"]), num(r["seconds_per_epoch"], 1)]
             for r in runs]) + "</details>")
    for name in ("robustness", "margins", "reliability", "curves", "epoch time"):
        if name in figures:
            parts.append(figure_html(figures[name]))
    return "".join(parts)


def drift_section(tables: dict[str, Any], figures: dict[str, dict]) -> str:
    rows = tables.get("drift")
    if not rows:
        return ""
    every = sorted((r for r in rows if r["layer"] == "all"), key=lambda r: -r["l2"])
    parts = ["<p>All layers at once, largest distance first (mean ± std over seeds):</p>",
             table(["variant", "L2 distance", "relative change", "cosine similarity"],
                   [[esc(r["variant"]), num(r["l2"], 3, 1, r["l2_std"]), num(r["rel_change"], 4, 1, r["rel_change_std"]),
                     num(r["cos_sim"], 4, 1, r["cos_sim_std"])] for r in every])]
    layers = [layer for layer in dict.fromkeys(r["layer"] for r in rows) if layer != "all"]
    per = {}
    for r in rows:
        per.setdefault(r["variant"], {})[r["layer"]] = r
    parts.append("<p>Per layer: relative change / cosine similarity:</p>" + table(
        ["variant", *layers], [[esc(v), *[f'{num(d[layer]["rel_change"], 4)} / {num(d[layer]["cos_sim"], 4)}' for layer in layers]]
                               for v, d in per.items()]))
    if "drift" in figures:
        parts.append(figure_html(figures["drift"]))
    return "".join(parts)


def model_section(tables: dict[str, Any], figures: dict[str, dict]) -> str:
    parts = []
    if tables.get("saliency"):
        parts.append("<p>Saliency in numbers (mean over test images and seeds): the share of |gradient| that falls on "
                     "the digit's stroke (ink grown by one pixel) and in the top 10% of pixels.</p>" + table(
            ["variant", "models", "on stroke %", "top-10% share %", "stroke area %"],
            [[esc(r["variant"]), str(r["models"]), num(r["on_stroke"], 1, 100), num(r["top10_share"], 1, 100),
              num(r["stroke_area"], 1, 100)] for r in tables["saliency"]]))
    for name in ("saliency", "kernels", "confusion", "misclassified", "data examples"):
        if name in figures:
            parts.append(figure_html(figures[name]))
    return "".join(parts)


def batch_section(tables: dict[str, Any], figures: dict[str, dict]) -> str:
    rows = tables.get("batch_size")
    if not rows:
        return ""
    body = table(["batch size", "seeds", "test acc %", "val loss", "epochs", "s / epoch"],
                 [[str(r["batch_size"]), str(r["seeds"]), num(r["test_acc"], 2, 100, r["test_acc_std"]),
                   num(r["val_loss"], 4), num(r["epochs_run"], 1), num(r["seconds_per_epoch"], 1)] for r in rows])
    return body + (figure_html(figures["batch size"]) if "batch size" in figures else "")


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def render(documents: list[dict[str, Any]], made: dict[str, Any], commands: list[str]) -> str:
    import torch

    figures = {f["name"]: f for f in made["figures"]}
    tables = made["tables"]
    sections = [("parity", "Parity of the custom layers", parity_section(documents, figures)),
                ("robustness", "Robustness: pixel jitter and label corruption", robustness_section(tables, figures)),
                ("drift", "Feature-space drift", drift_section(tables, figures)),
                ("model", "Saliency, kernels, errors", model_section(tables, figures)),
                ("batch", "Batch size", batch_section(tables, figures))]
    missing = made["missing"]
    if missing:
        by_why: dict[str, list[str]] = {}
        for m in missing:
            by_why.setdefault(m["why"], []).append(m["name"])
        sections.append(("missing", "Not in this report", "<ul>" + "".join(
            f"<li>{esc(', '.join(names))}: {esc(why)}</li>" for why, names in by_why.items()) + "</ul>"))
    sections.append(("reproduce", "Reproduce", "<pre>" + esc("\n".join(commands)) + "</pre>"))
    sections = [s for s in sections if s[2]]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{key}">{esc(title)}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{esc(title)}</h2>{content}</section>' for key, title, content in sections)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>lenet-parity report</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<h1>lenet-parity report</h1><p class="meta">{esc(stamp)} · torch {esc(torch.__version__)} · commit '
            f'{esc(_git_commit())} · {len(made["figures"])} figures</p><nav>{nav}</nav>{body}</body></html>\n')


def build_report(out: Path = Path("reports/report.html"), *, robustness: Path | None = Path("reports/robustness"),
                 batch: Path | None = Path("reports/batch-size"), check_json=(), backends=("numpy",),
                 run_checks: bool = True, data_root: Path = DEFAULT_DATA_ROOT, log=print) -> Path:
    """Gather parity results and experiment tables, draw every figure into OUT's folder/figures, write OUT."""
    out = Path(out)
    if check_json:
        documents = parity.load_documents(check_json)
    elif run_checks:
        documents = parity.run_documents(backends, data_root)
        for document in documents:  # keep what the report shows, as `check --json` would have written it
            path = out.parent / "checks" / f"{parity.label(document)}.json"
            atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    else:
        documents = []
    made = make_figures(out.parent / "figures", robustness=robustness, batch=batch, documents=documents,
                        data_root=data_root, log=log)
    sweeps, commands = made["tables"], []
    if sweeps.get("robustness"):
        commands += [(sweeps.get("robustness_sweep") or {}).get("command", "lenet-parity experiment robustness"),
                     f"lenet-parity experiment drift --runs {robustness}"]
    if sweeps.get("batch_size"):
        commands.append((sweeps.get("batch_sweep") or {}).get("command", "lenet-parity experiment batch-size"))
    commands += [f"lenet-parity check all --backend {parity.label(d)} --json {p}" for d, p in zip(documents, check_json)]
    commands.append(f"lenet-parity report --out {out}" + (f" --robustness {robustness}" if robustness else "")
                    + (f" --batch {batch}" if batch else "") + "".join(f" --check-json {p}" for p in check_json)
                    + (" --no-checks" if not documents else ""))
    atomic_write_text(out, render(documents, made, commands))
    if log:
        log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(made['figures'])} figures)")
    return out
