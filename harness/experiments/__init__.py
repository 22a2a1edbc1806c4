"""Experiments on the reference LeNet: robustness to jitter and label noise, weight drift, figures, the HTML report.

features.py (MNISTWithFeats, LeNetWithFeats) -> runs.py (one training run) -> sweep.py (runs in parallel,
resumable) -> robustness.py, batchsize.py, drift.py (tables) -> figures.py, saliency.py -> report.py (HTML).
commands.py holds the click commands the CLI mounts.
"""
