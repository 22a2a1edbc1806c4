"""The thin CLI wrappers: compare-runs, infer, follow, train: exit codes and bad input (one line, exit 2)."""

import pytest
from click.testing import CliRunner

from conftest import WEIGHTS
from lenet_parity.harness.cli import main

HEADER = "kind,epoch,step,train_loss,val_loss,val_acc,epoch_seconds\n"


def write_log(path, losses, val):
    rows = [f"batch,1,{i + 1},{loss},,," for i, loss in enumerate(losses)] + [f"epoch,1,{len(losses)},{losses[-1]},{val},0.9,1.0"]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_compare_runs_reports_the_largest_difference_and_gates_on_it(tmp_path):
    a = write_log(tmp_path / "a.csv", [2.0, 1.0, 0.5], 0.4)
    b = write_log(tmp_path / "b.csv", [2.0, 1.25, 0.5], 0.4)
    png = tmp_path / "cmp.png"
    result = CliRunner().invoke(main, ["compare-runs", str(a), str(b), "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert "largest training loss difference: 2.500e-01 at step 2" in result.output and png.stat().st_size > 1000
    gated = CliRunner().invoke(main, ["compare-runs", str(a), str(b), "--max-diff", "0.1"])
    assert gated.exit_code == 1
    assert CliRunner().invoke(main, ["compare-runs", str(a), str(b), "--max-diff", "0.3"]).exit_code == 0


def test_compare_runs_refuses_a_file_that_is_not_a_log(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(main, ["compare-runs", str(bad), str(bad)])
    assert result.exit_code == 2 and "not a training log" in result.output


@pytest.mark.parametrize("args, message", [
    (["infer", "--checkpoint", "missing.json"], "checkpoint not found"),
    (["train", "--weights", "missing.json"], "weights file not found"),
    (["follow", "--weights", "missing.json"], "weights file not found"),
    (["train", "--lr", "-1"], "Invalid value for '--lr'"),
    (["check", "nonsense"], "Invalid value for 'TYPE'"),
])
def test_bad_options_exit_2(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def test_infer_numpy_against_torch_on_a_few_images(mnist_root):
    result = CliRunner().invoke(main, ["infer", "--backend", "numpy", "--checkpoint", str(WEIGHTS), "--compare", "torch",
                                       "--limit", "20", "--data-root", str(mnist_root), "--dtype", "float64"])
    assert result.exit_code == 0, result.output
    assert "0 of 20 predictions differ" in result.output
