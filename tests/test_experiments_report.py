"""The HTML report: self-contained (nothing fetched from anywhere), every figure inlined, parity results shown."""

import base64
import json
import re

import pytest

from lenet_parity.executors import Executor
from lenet_parity.harness.compare import compare
from lenet_parity.experiments.html_report import build_report
from lenet_parity.experiments.screenshot import find_browser, screenshot
from lenet_parity.harness.report import write_json
from lenet_parity.harness.results import CheckResult, CheckRun

SERIAL = Executor(workers=0)  # one run after another, in this process


ALL_FIGURES = {"robustness", "curves", "epoch time", "margins", "reliability", "drift", "kernels", "saliency",
               "confusion", "misclassified", "data examples", "batch size", "parity numpy"}


def check_file(path):
    """A real --json file from the check-result classes: conv1 passes, pool1's gradient fails, fc1 crashed."""
    import numpy as np

    rng = np.random.default_rng(0)
    expected = rng.standard_normal((4, 6, 12, 12))
    run = CheckRun()
    run.add(CheckResult("conv1", "output", "snapshot", "float32",
                        compare(expected + 1e-7, expected, atol=1e-5, rtol=1e-4, name="conv1.output")))
    bad = expected.copy()
    bad[0, 1, 2, 3] += 0.5  # a gradient routed to the wrong element
    run.add(CheckResult("pool1", "grad_input", "snapshot", "float32",
                        compare(bad, expected, atol=1e-5, rtol=1e-4, name="pool1.grad_input")))
    run.add(CheckResult("fc1", "grad_weight", "hybrid", "float64", error="backward() raised ValueError: shapes"))
    write_json(run, path, meta={"implementation": "numpy"})
    return path


def attributes(text):
    return re.findall(r'\b(?:src|href)\s*=\s*["\']?([^"\' >]+)', text, flags=re.IGNORECASE)


def assert_self_contained(text):
    for value in attributes(text):
        assert value.startswith(("data:image/png;base64,", "#")), f"external resource: {value[:80]}"
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, flags=re.IGNORECASE)
    assert not re.search(r"url\(|@import|https?://", text), "CSS or text that points outside the file"


def test_a_report_with_only_parity_results_is_self_contained(tmp_path):
    path = check_file(tmp_path / "check.json")
    out = build_report(tmp_path / "report.html", robustness=None, batch=None, check_json=[path], log=None)
    text = out.read_text()
    assert_self_contained(text)
    heatmap = (tmp_path / "figures" / "parity_0_numpy.png").read_bytes()
    assert base64.b64encode(heatmap).decode() in text  # the heatmap itself, inlined
    plain = re.sub(r"<[^>]+>", "", text)  # the words a reader sees
    assert "numpy: FAIL, 1 of 3 tensor checks passed" in plain
    assert "first failure: pool1.grad_input [snapshot, float32]" in plain
    assert "backward() raised ValueError: shapes" in plain  # the crash is in the failures table
    # what is missing says how to make it
    assert "lenet-parity experiment robustness" in plain and "lenet-parity experiment batch-size" in plain


@pytest.mark.slow
def test_the_full_report_holds_every_figure(tmp_path, mnist_root):
    from lenet_parity.experiments.batchsize import run_batch_size
    from lenet_parity.experiments.robustness import run_robustness

    run_robustness(tmp_path / "robustness", quick=True, seeds=1, data_root=mnist_root, executor=SERIAL,
                   variants=["clean", "jitter-20pct", "corrupt-20pct"], log=None)
    run_batch_size(tmp_path / "batch", quick=True, data_root=mnist_root, executor=SERIAL, log=None)
    out = build_report(tmp_path / "report.html", robustness=tmp_path / "robustness", batch=tmp_path / "batch",
                       check_json=[check_file(tmp_path / "check.json")], data_root=mnist_root, log=None)
    text = out.read_text()
    assert_self_contained(text)
    made = json.loads((tmp_path / "figures" / "figures.json").read_text())
    assert {f["name"] for f in made["figures"]} == ALL_FIGURES and made["missing"] == []
    for figure in made["figures"]:
        assert base64.b64encode(open(figure["file"], "rb").read()).decode() in text, figure["name"]
    assert text.count("<img ") == len(ALL_FIGURES)
    assert "Quick settings" in text and "Claim for label corruption" in text
    if find_browser():  # the same file in a real browser, when one is installed
        png = screenshot(out, tmp_path / "report.png", width=1200, height=3000)
        _assert_not_blank(png)


def _assert_not_blank(png):
    from matplotlib.image import imread

    pixels = imread(str(png))
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels[..., :3].std() > 0.05  # text, tables and figures, not an empty or error page


@pytest.mark.slow
@pytest.mark.skipif(find_browser() is None, reason="no Chromium installed (Debian: apt-get install -y chromium)")
def test_the_report_renders_in_chromium(tmp_path):
    out = build_report(tmp_path / "report.html", robustness=None, batch=None,
                       check_json=[check_file(tmp_path / "check.json")], log=None)
    _assert_not_blank(screenshot(out, tmp_path / "report.png", width=1200, height=3000))
