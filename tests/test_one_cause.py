"""One cause on every surface: a layer's bug is named the same by check (every mode), trace, check_network, the
pytest helper and grade; a right layer downstream of a wrong one is said to inherit the difference."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lenet_parity import check_layer, check_network
from lenet_parity.harness.cli import main
from lenet_parity.harness.grading import grade
from lenet_parity.executors import Executor

STUDENT = Path(__file__).parent / "student_layers" / "numpy_layers.py"
BUGS = {  # a classic bug each, planted in a copy of a correct student file: (old text, new text, layer, cause)
    "nll_block_index": ("picked = logp[np.arange(N), target]\n        return float(-picked.sum() / N)",
                        "picked = logp[:, target]\n        return float(-picked.mean())", "loss", "wrong-index"),
}


def _buggy(tmp_path: Path, name: str) -> Path:
    old, new, _, _ = BUGS[name]
    text = STUDENT.read_text()
    assert old in text
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(old, new))
    return path


def _first(output: str) -> tuple[str, str]:
    """(first failure line, likely cause line) of a check's terminal output."""
    lines = output.splitlines()
    first = next(line for line in lines if line.startswith("first failure:") or "first divergence at" in line)
    return first, next(line for line in lines if line.startswith("likely cause:"))


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_every_surface_names_the_layer_alone_cause(tmp_path, bug):
    path = _buggy(tmp_path, bug)
    _, _, layer, code = BUGS[bug]
    impl = f"{path}:NLLLoss"
    for modes in (["snapshot"], ["hybrid"], ["train"]):
        result = CliRunner().invoke(main, ["check", "loss", "--impl", impl, *(a for m in modes for a in ("--mode", m))])
        assert result.exit_code == 1, result.output
        first, likely = _first(result.output)
        assert f"[{code}]" in likely and f"{layer}." in first, (modes, result.output)
        if modes != ["snapshot"]:
            assert "found checking the layer alone" in likely
    traced = CliRunner().invoke(main, ["trace", "--impl", str(path)])
    assert traced.exit_code == 1 and f"[{code}]" in traced.output, traced.output

    network = check_network(path)
    assert not network.passed and network.first_failure.likely().code == code
    run = check_layer(impl, "loss", modes=["hybrid"])
    assert run.first_failure.likely().code == code
    with pytest.raises(AssertionError, match=rf"\[{code}\]"):
        from lenet_parity.testing import assert_layer_parity
        assert_layer_parity(impl, "loss", modes=["hybrid", "train"])

    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "amy.py").write_text(path.read_text())
    grades = grade(subs, tmp_path / "grades", executor=Executor(workers=0), modes=("hybrid",))
    assert grades[0].cells["loss"] == "fail" and f"[{code}]" in grades[0].reasons["loss"]


def test_a_right_layer_after_a_wrong_one_inherits_the_difference(tmp_path):
    text = STUDENT.read_text()
    old = "return x.reshape(x.shape[0], -1)"
    assert old in text, "the student's Flatten changed: plant the bug another way"
    path = tmp_path / "flatten_fortran.py"
    path.write_text(text.replace(old, "return np.stack([xi.ravel(order='F') for xi in x])"))
    run = check_layer(str(path), "all", modes=["hybrid"], dtype="float64")
    failing = {(r.layer, r.tensor): r.likely() for r in run.results if not r.passed and r.comparison is not None}
    assert failing[("flatten", "output")].code == "permutation"
    assert failing[("fc1", "output")].code == "inherited" and "fix flatten first" in failing[("fc1", "output")].hint
    assert run.first_failure.layer == "flatten"
