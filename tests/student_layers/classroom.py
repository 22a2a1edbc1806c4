"""A class of submissions to grade, made from the student-style layers here: correct ones, buggy ones, and the
ones a teacher dreads (a syntax error, an exit and a hang at import, a forbidden import, a missing class).

``make_class(folder, n)`` writes n submissions (n >= len(KINDS) gives every kind once); ``EXPECTED`` says
which cells each kind must get, so a test or a benchmark can check the gradebook it produced.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
CORRECT = (HERE / "numpy_layers.py").read_text()
LAYER_TYPES = ("conv", "pool", "relu", "dense", "flatten", "logsoftmax", "loss")


def _buggy(name: str) -> str:
    return (HERE / "buggy" / name).read_text()


# kind -> (the file's text, the expected cells: one value for every layer type, or a dict of exceptions to "pass")
KINDS: dict[str, tuple[str, str | dict[str, str]]] = {
    "correct": (CORRECT, {}),
    "conv_bias_mean": (_buggy("B01_conv_bias_grad_mean.py"), {"conv": "fail"}),
    "pool_ties": (_buggy("B04_pool_grad_last_max_on_ties.py"), {"pool": "fail"}),
    "nll_no_mean": (_buggy("B08_nll_backward_missing_1_over_n.py"), {"loss": "fail"}),
    "no_pool": (CORRECT.replace("class MaxPool2d", "class Downsampler"), {"pool": "missing"}),  # no pool-like name
    "syntax_error": (CORRECT.replace("def forward(self, x):", "def forward(self, x:", 1), "error"),
    "exits_at_import": ("import sys\nsys.exit(3)\n" + CORRECT, "error"),
    "hangs_at_import": ("while True:\n    pass\n" + CORRECT, "error"),
    "imports_torch": ("import torch\n" + CORRECT, "fail"),
}


def expected_cells(kind: str) -> dict[str, str]:
    cells = KINDS[kind][1]
    if isinstance(cells, str):
        return dict.fromkeys(LAYER_TYPES, cells)
    return {t: cells.get(t, "pass") for t in LAYER_TYPES}


def make_class(folder: Path, n: int = len(KINDS)) -> dict[str, str]:
    """n submissions ``student-NN-<kind>.py`` cycling through KINDS; student name -> kind."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(KINDS)
    students = {}
    for i in range(n):
        kind = names[i % len(names)]
        student = f"student-{i:02d}-{kind}"
        (folder / f"{student}.py").write_text(KINDS[kind][0])
        students[student] = kind
    return students
