"""Experiments on the reference LeNet: robustness to jitter and label noise, weight drift, figures, the HTML report.

features.py (MNISTWithFeats, LeNetWithFeats) and metrics.py (ECE, margins, P/R/F1) -> runs.py (one training
run through the shared loop) -> parallel.py (runs in parallel processes, resumable) -> robustness.py,
batchsize.py, drift.py (tables) -> run_figures.py, model_figures.py, saliency.py, parity.py (figures, via
plotting.py; gathered by figures.py) -> html_report.py (one HTML file; screenshot.py renders it in Chromium).
May import lenet_parity, reference and harness (the parity section runs the checks); nothing imports
experiments but the CLI.
"""
