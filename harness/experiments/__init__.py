"""Experiments on the reference LeNet: robustness to jitter and label noise, weight drift, figures, the HTML report.

features.py (MNISTWithFeats, LeNetWithFeats) and metrics.py (ECE, margins, P/R/F1) -> runs.py (one training
run through the shared loop) -> sweep.py (runs in parallel processes, resumable) -> robustness.py,
batchsize.py, drift.py (tables) -> run_figures.py, model_figures.py, saliency.py, parity.py (figures, via
plotting.py; gathered by figures.py) -> report.py (one HTML file; screenshot.py renders it in Chromium).
commands.py holds the click commands the CLI mounts.
"""
