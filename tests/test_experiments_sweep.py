"""Sweeps on real MNIST with --quick settings: finished runs are never redone, interrupted ones resume, tables agree."""

import json

import pytest
from click.testing import CliRunner

from lenet_parity.errors import UserInputError
from lenet_parity.executors import Executor
from lenet_parity.experiments.drift import run_drift
from lenet_parity.experiments.robustness import robustness_specs, run_robustness
from lenet_parity.experiments.parallel import SweepError, run_sweep

SERIAL = Executor(workers=0)  # one run after another, in this process


VARIANTS = ["clean", "corrupt-20pct"]


@pytest.fixture(scope="module")
def sweep(mnist_root, tmp_path_factory):
    """A quick two-run sweep, run once for the module (in this process: workers=0)."""
    out = tmp_path_factory.mktemp("robustness")
    first = run_robustness(out, quick=True, seeds=1, data_root=mnist_root, executor=SERIAL, variants=VARIANTS, log=None)
    return out, first


def test_a_sweep_writes_its_tables_and_records_the_corruption(sweep):
    out, first = sweep
    assert sorted(first["executed"]) == ["clean/seed-42", "corrupt-20pct/seed-42"] and first["skipped"] == []
    runs = json.loads((out / "runs.json").read_text())
    assert [r["name"] for r in runs] == ["clean/seed-42", "corrupt-20pct/seed-42"]
    assert (out / "runs.csv").read_text().splitlines()[0].startswith("name,group,variant,rate,seed")
    table = json.loads((out / "table.json").read_text())
    assert [r["variant"] for r in table] == VARIANTS and all(r["seeds"] == 1 for r in table)
    for run in runs:  # the table agrees with the run's own files
        summary = json.loads((out / "runs" / run["name"] / "summary.json").read_text())
        assert run["test_acc"] == summary["test_acc"] and run["val_loss"] == summary["best_val_loss"]
        assert 0 <= run["ece"] <= 1 and 0 <= run["margin_median"] <= 1
    record = json.loads((out / "runs" / "corrupt-20pct" / "seed-42" / "corruption.json").read_text())["corrupt"]
    assert record["count"] == 400  # 20% of the 2,000 quick training images
    assert all(o != n for o, n in zip(record["original"], record["new"]))
    clean = json.loads((out / "runs" / "clean" / "seed-42" / "corruption.json").read_text())["corrupt"]
    assert clean["count"] == 0
    claim = json.loads((out / "claim.json").read_text())
    assert set(claim["families"]) == {"corrupt", "jitter"} and claim["families"]["jitter"]["holds"] is None


def test_finished_runs_are_never_redone_and_an_interrupted_one_resumes(sweep, mnist_root):
    out, _ = sweep
    clean_dir, corrupt_dir = out / "runs" / "clean" / "seed-42", out / "runs" / "corrupt-20pct" / "seed-42"
    before = {d: ((d / "log.csv").read_bytes(), (d / "log.csv").stat().st_mtime_ns) for d in (clean_dir, corrupt_dir)}
    again = run_robustness(out, quick=True, seeds=1, data_root=mnist_root, executor=SERIAL, variants=VARIANTS, log=None)
    assert again["executed"] == [] and sorted(again["skipped"]) == ["clean/seed-42", "corrupt-20pct/seed-42"]
    # an interruption after the last epoch but before the summary: only that run executes, and it resumes
    (corrupt_dir / "summary.json").unlink()
    (corrupt_dir / "metrics.json").unlink()
    resumed = run_robustness(out, quick=True, seeds=1, data_root=mnist_root, executor=SERIAL, variants=VARIANTS, log=None)
    assert resumed["executed"] == ["corrupt-20pct/seed-42"] and resumed["skipped"] == ["clean/seed-42"]
    assert (clean_dir / "log.csv").stat().st_mtime_ns == before[clean_dir][1]  # not touched
    # a retrained run would log new epoch times; a resumed one keeps its log byte for byte
    assert (corrupt_dir / "log.csv").read_bytes() == before[corrupt_dir][0]
    assert "resuming" in (corrupt_dir / "stdout.log").read_text()
    assert (corrupt_dir / "summary.json").exists() and (corrupt_dir / "metrics.json").exists()


def test_a_folder_holding_another_run_is_refused(sweep, mnist_root):
    out, _ = sweep
    with pytest.raises(UserInputError, match="holds another run"):  # the full recipe into a --quick folder
        run_robustness(out, quick=False, seeds=1, data_root=mnist_root, executor=SERIAL, variants=["clean"], log=None)


def test_drift_of_the_quick_sweep(sweep):
    out, _ = sweep
    result = run_drift(out, log=None)
    variants = {(r["variant"], r["layer"]) for r in result["rows"]}
    layers = ["conv1", "conv2", "fc1", "fc2", "fc3", "all"]
    assert variants == {(v, layer) for v in ("clean vs its init", "corrupt-20pct") for layer in layers}
    for r in result["rows"]:
        assert r["l2"] > 0 and r["rel_change"] > 0 and -1 <= r["cos_sim"] <= 1
    assert (out / "drift.csv").exists() and json.loads((out / "drift.json").read_text()) == result["table"]


def test_failed_runs_are_reported_and_the_others_kept(tmp_path, mnist_root):
    specs = robustness_specs(tmp_path, quick=True, seeds=1, data_root=mnist_root, variants=["clean", "jitter-5pct"])

    def execute(spec):  # a stand-in worker: one run crashes before training
        raise RuntimeError(f"boom in {spec.name}")

    with pytest.raises(SweepError, match=r"2 of 2 runs failed: RuntimeError: boom in clean/seed-42 \(clean/seed-42\)"):
        run_sweep(specs, tmp_path / "runs", executor=SERIAL, execute=execute, log=None)


def test_bad_variant_is_exit_2_through_the_command(tmp_path):
    from lenet_parity.harness.cli import main

    result = CliRunner().invoke(main, ["experiment", "robustness", "--quick", "--variant", "nope", "--out",
                                       str(tmp_path)])
    assert result.exit_code == 2 and "unknown variants ['nope']" in result.output


@pytest.mark.slow
def test_runs_execute_in_two_worker_processes(tmp_path, mnist_root):
    result = run_robustness(tmp_path, quick=True, seeds=1, data_root=mnist_root, executor=Executor(workers=2),
                            variants=["clean", "jitter-10pct"], log=None)
    assert sorted(result["executed"]) == ["clean/seed-42", "jitter-10pct/seed-42"]
    serial = run_robustness(tmp_path / "serial", quick=True, seeds=1, data_root=mnist_root, executor=SERIAL,
                            variants=["clean"], log=None)
    # one thread per run in both cases, so a worker process reproduces the in-process run bit for bit
    parallel_clean = next(r for r in result["table"] if r["variant"] == "clean")
    assert parallel_clean["test_acc"] == serial["table"][0]["test_acc"]
    assert parallel_clean["val_loss"] == serial["table"][0]["val_loss"]


def test_a_run_with_auxiliary_features(tmp_path, mnist_root):
    from lenet_parity.reference.weights import read_weights

    result = run_robustness(tmp_path, quick=True, seeds=1, data_root=mnist_root, executor=SERIAL, variants=["clean"],
                            aux_features=True, log=None)
    assert result["executed"] == ["clean/seed-42"]
    weights = read_weights(tmp_path / "runs" / "clean" / "seed-42" / "best.json")
    assert weights.tensors["fc1.weight"][1] == [120, 256 + 2]  # the two features reach fc1
    assert json.loads((tmp_path / "runs" / "clean" / "seed-42" / "spec.json").read_text())["aux_features"] is True


@pytest.mark.slow
def test_runs_on_ray_give_the_same_table_as_runs_in_this_process(sweep, tmp_path, mnist_root):
    pytest.importorskip("ray")
    out, serial = sweep
    on_ray = run_robustness(tmp_path, quick=True, seeds=1, data_root=mnist_root, executor=Executor(kind="ray"),
                            variants=VARIANTS, log=None)
    assert sorted(on_ray["executed"]) == ["clean/seed-42", "corrupt-20pct/seed-42"]
    timing = {"seconds_per_epoch"}  # how long, not what was learnt
    rows = [{k: v for k, v in r.items() if k not in timing} for r in json.loads((tmp_path / "runs.json").read_text())]
    expected = [{k: v for k, v in r.items() if k not in timing} for r in json.loads((out / "runs.json").read_text())]
    assert rows == expected
