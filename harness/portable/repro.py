"""``cases check --repro OUT``: each failing case as files a kernel author opens in their own tools.

OUT/<id>/ holds the case's inputs (``x.npy``, the params, ``dy.npy``, ``target.npy``), torch's values
(``expected_<name>.npy``) and the program's (``got_<name>.npy``, where it wrote one), and ``README.txt``: one
page saying which layer and arguments, which tensors failed, by how much and where, and the likely cause.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet_parity.harness.portable.answers import read_answers
from lenet_parity.atomic import replace_folder
from lenet_parity.harness.portable.export import ANSWERS, npy_bytes
from lenet_parity.harness.portable.plan import PortableCase, answer_name
from lenet_parity.harness.results import CheckResult


def explanation(case: PortableCase, rows: list[CheckResult]) -> str:
    """The one page: what the case is, what failed and how, and what to try."""
    failed = [r for r in rows if r.status == "failed"]
    lines = [f"case {case.id}", "",
             f"layer:   {case.spec.cls}({', '.join(f'{k}={v!r}' for k, v in case.record()['kwargs'].items())})"
             + ("" if case.layer == case.origin else f"   [another configuration of {case.origin}'s class]"),
             f"dtype:   {case.dtype}" + ("   (training mode)" if case.record()["training"] else ""),
             "inputs:  " + ", ".join(f"{n}.npy {tuple(a.shape)}" for n, a in case.inputs().items()),
             f"case:    {case.mode}, {case.case.label or 'the Phase 0 batch'}", "",
             f"{len(failed)} of {len(rows)} checks failed:"]
    for row in failed:
        lines.append(f"  - {row.describe()}" + (f"   (file {answer_name(row.tensor)}.npy)"
                                                 if row.tensor in case.case.expected else ""))
        c = row.comparison
        if c is not None and c.reason in ("values", "nonfinite"):
            lines.append(f"    worst at {c.worst_index}: got {c.actual_at_worst!r}, expected {c.expected_at_worst!r}")
    likely = failed[0].likely() if failed else None
    if likely is not None:
        lines += ["", f"likely cause: {likely.hint} [{likely.code}]"]
    lines += ["", "files: the inputs as exported; expected_<name>.npy is torch's value, got_<name>.npy the "
                  "program's (absent where it wrote none). Compare them, e.g. in NumPy:",
              "  np.abs(np.load('got_dx.npy') - np.load('expected_dx.npy')).max()", ""]
    return "\n".join(lines)


def write_case_repro(failing: list[tuple[PortableCase, list[CheckResult]]], export_dir: Path, out: Path) -> list[Path]:
    """One folder per failing case under ``out`` (replacing an earlier one whole); the folders written.

    ``got_`` files hold the answers as the check read them (a symlinked or unreadable answer has none)."""
    written = []
    for case, rows in failing:
        got, _ = read_answers(export_dir / ANSWERS / case.id, case)
        files = {f"{name}.npy": npy_bytes(array) for name, array in case.inputs().items()}
        for tensor, value in case.case.expected.items():
            name = answer_name(tensor)
            files[f"expected_{name}.npy"] = npy_bytes(np.asarray(value, dtype=case.dtype))
            if name in got:
                files[f"got_{name}.npy"] = npy_bytes(got[name])
        files["README.txt"] = explanation(case, rows).encode()
        written.append(replace_folder(out / case.id, files))
    return written
