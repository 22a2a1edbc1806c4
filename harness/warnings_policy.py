"""Deviations that change no value: warnings, not failures (unless --strict, for a backend's CI).

- ``dtype``: forward or backward returned float64 for float32 input. Its values are still judged, at float32's
  tolerance, by every other row; the dtype alone harms nothing a student's network computes.
- ``input_unchanged`` / ``dy_unchanged``: forward wrote into its input, or backward into dy (a textbook's ReLU
  does). A warning only when the hybrid or train mode ran this layer inside the network and found every value
  right; else (they did not run, or something of that layer failed there) it stays a failure.

A row turned into a warning keeps its finding as ``warning`` and passes; it is listed and counted.
"""

from __future__ import annotations

from lenet_parity.harness.results import CheckResult

ALWAYS_HARMLESS = ("dtype",)
HARMLESS_IF_THE_NETWORK_IS_RIGHT = ("input_unchanged", "dy_unchanged")
NETWORK_MODES = ("hybrid", "train")


def soften(results: list[CheckResult], *, strict: bool) -> None:
    """Turn the findings that change no value into warnings (in place); with ``strict``, leave them failures."""
    if strict:
        return
    network_ran = {r.checked_layer for r in results if r.mode in NETWORK_MODES} | (
        {"*"} if any(r.mode == "train" for r in results) else set())
    harmed = {r.checked_layer for r in results if r.mode in NETWORK_MODES and not r.passed}
    train_failed = any(r.mode == "train" and not r.passed for r in results)
    for r in results:
        if r.finding is None or r.error is not None:
            continue
        if r.tensor in ALWAYS_HARMLESS:
            r.warning, r.finding = r.finding, None
        elif r.tensor in HARMLESS_IF_THE_NETWORK_IS_RIGHT:
            seen = r.checked_layer in network_ran or "*" in network_ran
            if seen and r.checked_layer not in harmed and not train_failed:
                r.warning, r.finding = (f"{r.finding} (the hybrid and train modes found the network's values "
                                        f"unharmed)"), None
