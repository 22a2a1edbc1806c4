"""Hypotheses for the elementwise activations' backward (Tanh, Sigmoid, ReLU): a derivative taken at the input
instead of the output, a derivative formula missing a factor, the upstream gradient never multiplied in.

Registered in diagnosis.py's HYPOTHESES. Torch computes tanh's and sigmoid's gradient from the output y
(tanh_backward, sigmoid_backward): dx = dy * (1 - y^2), dx = dy * y * (1 - y). Their broken twins, for the bug
zoo, live in mutants/new_types.py.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lenet_parity.harness.diagnosis_evidence import Diagnosis, Evidence


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows: see custom_layers/numpy/activations.py
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# class -> (y = f(x), the right derivative as a function of y, as a student writes it after "dx = dy * ")
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray], str]] = {
    "Tanh": (np.tanh, lambda y: 1 - y * y, "(1 - y**2)"),
    "Sigmoid": (_sigmoid, lambda y: y * (1 - y), "y * (1 - y)"),
}

# class -> [(the slope the bug uses, as a function of y, what it writes, what went wrong)]
WRONG_SLOPES: dict[str, list[tuple[Callable[[np.ndarray], np.ndarray], str, str]]] = {
    "Sigmoid": [(lambda y: y, "dy * s", "the (1 - s) factor is missing"),
                (lambda y: 1 - y, "dy * (1 - s)", "the s factor is missing")],
    "Tanh": [(lambda y: 1 - y, "dy * (1 - y)", "the square is missing"),
             (lambda y: 1 + y * y, "dy * (1 + y**2)", "the sign inside is wrong")],
}


def _inputs(ev: Evidence, *, needs_dy: bool = True) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(x, dy) as float64 when the failing tensor is an activation's grad_input and the check kept them."""
    if ev.tensor != "grad_input" or ev.x is None or (needs_dy and ev.dy is None) or ev.x.shape != ev.got.shape:
        return None
    return np.asarray(ev.x, dtype=np.float64), None if ev.dy is None else np.asarray(ev.dy, dtype=np.float64)


def _telling(ev: Evidence, candidate: np.ndarray) -> bool:
    """The values match the candidate, and the inputs tell it from the right answer (|x| << 1 would not)."""
    return ev.matches(candidate) and not np.allclose(candidate, ev.expected, atol=ev.atol, rtol=ev.rtol)


def grad_from_input(ev: Evidence) -> Diagnosis | None:
    """The derivative written in terms of y but evaluated at the input x: tanh's dy * (1 - x^2), sigmoid's
    dy * x * (1 - x)."""
    found = _inputs(ev)
    if ev.cls not in FUNCTIONS or found is None:
        return None
    x, dy = found
    _, slope, formula = FUNCTIONS[ev.cls]
    if not _telling(ev, dy * slope(x)):
        return None
    wrong = formula.replace("y", "x")
    return Diagnosis("grad-from-input", f"dx = dy * {wrong} evaluates the derivative at the input x; it is a "
                                        f"function of the output y = {ev.cls.lower()}(x): keep y from forward and use "
                                        f"dx = dy * {formula}")


def wrong_derivative(ev: Evidence) -> Diagnosis | None:
    """A derivative formula missing one of its factors: sigmoid's dy * s (no 1 - s), tanh's dy * (1 - y)."""
    found = _inputs(ev)
    if ev.cls not in WRONG_SLOPES or found is None:
        return None
    x, dy = found
    function, _, formula = FUNCTIONS[ev.cls]
    y = function(x)
    for slope, written, what in WRONG_SLOPES[ev.cls]:
        if _telling(ev, dy * slope(y)):
            right = formula.replace("y", "s") if ev.cls == "Sigmoid" else formula
            return Diagnosis("wrong-derivative", f"dx = {written}: {what} in {ev.cls.lower()}'s derivative; "
                                                 f"dx = dy * {right}")
    return None


def chain_rule(ev: Evidence) -> Diagnosis | None:
    """The local derivative returned without multiplying by dy (the chain rule forgotten): 1 - y^2, y * (1 - y),
    or ReLU's mask (x > 0)."""
    found = _inputs(ev, needs_dy=False)
    if found is None or ev.cls not in (*FUNCTIONS, "ReLU"):
        return None
    x, _ = found
    if ev.cls == "ReLU":
        local, formula = (x > 0).astype(np.float64), "(x > 0)"  # ReLU's mask, as 0.0 and 1.0
    else:
        function, slope, formula = FUNCTIONS[ev.cls]
        local = slope(function(x))
    if not _telling(ev, local):
        return None
    return Diagnosis("chain-rule", f"backward returns the local derivative {formula} without multiplying by the "
                                   f"upstream gradient: dx = dy * {formula}")
