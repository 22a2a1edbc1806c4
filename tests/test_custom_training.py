"""Training the custom LeNets through the shared loop: lockstep with torch, Adam, resume, and compare-runs."""

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lenet_parity.errors import UserInputError
from lenet_parity.harness.compare import assert_match
from lenet_parity.custom_lenet.compare_runs import compare_runs
from lenet_parity.custom_lenet.backend import CustomBackend
from lenet_parity.custom_lenet.follow import FollowResult, LockstepBackend, follow, growth_table, read_follow_csv
from lenet_parity.custom_lenet.training import make_backend, run_training
from lenet_parity.reference.training import CSV_COLUMNS, Recipe, train
from lenet_parity.reference.weights import build_torch_model

from conftest import WEIGHTS


@pytest.fixture(scope="module")
def mnist_small(mnist_root):
    """The first 256 training images and 64 validation / test images of MNIST, float64."""
    from lenet_parity.reference.datasets import load_splits

    splits = load_splits("mnist", mnist_root)
    take = {"train": 256, "val": 64, "test": 64}
    return {k: (getattr(splits, k).tensors[0][:n].double(), getattr(splits, k).tensors[1][:n]) for k, n in take.items()}


def assert_states_match(custom_backend, torch_model, tensor="optim"):
    ours = custom_backend.model.state_dict()
    for name, t in torch_model.state_dict().items():
        assert_match(np.asarray(ours[name], dtype=np.float64), t, dtype="float64", tensor=tensor, name=name)


@pytest.mark.parametrize("backend,batch_size", [("numpy", 64), ("python", 8)])
def test_custom_backend_follows_torch_step_by_step(tmp_path, mnist_small, backend, batch_size):
    """Same weights, same batches (the shared loop), float64: every step's loss and the final params agree."""
    recipe = Recipe(batch_size=batch_size, epochs=1, log_every=1, limit=256 if backend == "numpy" else 24)
    reference, _ = make_backend("torch", WEIGHTS, recipe, dtype="float64")
    custom, _ = make_backend(backend, WEIGHTS, recipe, dtype="float64")
    lockstep = LockstepBackend(reference, custom)
    n_eval = 64 if backend == "numpy" else 8  # the pure-Python forward pass is slow
    data = {k: (x[:n_eval], y[:n_eval]) if k != "train" else (x, y) for k, (x, y) in mnist_small.items()}
    train(lockstep, data, recipe, tmp_path, resume=False, progress=False)
    assert len(lockstep.rows) == recipe.limit // batch_size
    for row in lockstep.rows:
        assert_match(row["custom_loss"], row["torch_loss"], dtype="float64", tensor="loss", name=f"step {row['step']} loss")
    assert_states_match(custom, reference.model)
    assert growth_table(lockstep.rows)[-1][0] == len(lockstep.rows)


def test_follow_writes_csv_png_and_a_verdict(tmp_path, mnist_root):
    result = follow(backend="numpy", dtype="float64", recipe=Recipe(limit=128), eval_limit=64, out=tmp_path,
                    data_root=mnist_root, progress=False)
    rows = read_follow_csv(result.csv_path)
    assert [r["step"] for r in rows] == [1, 2] and result.passed and result.atol == 1e-6
    assert max(r["abs_diff"] for r in rows) == result.max_abs_diff <= 1e-12
    assert result.png_path.read_bytes()[:4] == b"\x89PNG" and "OK   the numpy LeNet follows torch" in result.report()
    planted = FollowResult("numpy", "float64", 10, 3e-6, 7, 1, 1e-7, 1e-6, growth=[(10, 3e-6, 1e-7)])
    assert not planted.passed and "FAIL" in planted.report() and "at step 7" in planted.report()
    assert FollowResult("numpy", "float32", 10, 0.1, 7, 1, 1e-2, None).passed  # float32: no bound


def test_adam_follows_torch_adam(mnist_small):
    x, y = mnist_small["train"]
    custom = CustomBackend.from_weights("numpy", WEIGHTS, lr=1e-3, weight_decay=1e-4, dtype="float64", optimizer="adam")
    model = build_torch_model(WEIGHTS).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    for step in range(4):
        xb, yb = x[step * 32:(step + 1) * 32], y[step * 32:(step + 1) * 32]
        optimizer.zero_grad()
        loss = F.nll_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        assert_match(custom.train_step(xb, yb), loss.item(), dtype="float64", tensor="loss", name=f"step {step} loss")
    assert_states_match(custom, model)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_numpy_run_resumes_bit_exactly(tmp_path, mnist_small, optimizer):
    """Interrupted in epoch 2, resumed from disk by a fresh backend: the same log and the same best weights."""
    recipe = Recipe(batch_size=32, epochs=3, log_every=2, patience=5, limit=96, lr=0.01 if optimizer == "sgd" else 1e-3)

    def backend():
        return CustomBackend.from_weights("numpy", WEIGHTS, lr=recipe.lr, momentum=0.9, dtype="float64",
                                          optimizer=optimizer)

    train(backend(), mnist_small, recipe, tmp_path / "straight", progress=False)
    interrupted, steps = backend(), {"n": 0}
    real_step = interrupted.train_step

    def step(x, y):
        steps["n"] += 1
        if steps["n"] == 5:  # the middle of epoch 2
            raise KeyboardInterrupt
        return real_step(x, y)

    interrupted.train_step = step
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, mnist_small, recipe, tmp_path / "resumed", progress=False)
    fresh = backend()
    fresh.model.layers["fc3"].params["bias"] += 1.0  # whatever it holds must come from resume.pkl
    train(fresh, mnist_small, recipe, tmp_path / "resumed", progress=False)

    def rows(run):
        with open(tmp_path / run / "log.csv") as handle:
            return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in csv.DictReader(handle)]

    assert rows("straight") == rows("resumed") and len(rows("straight")) == 3 + 4  # 3 epochs, a row every 2 steps
    best = [json.loads((tmp_path / run / "best.json").read_text())["tensors"] for run in ("straight", "resumed")]
    assert best[0] == best[1]


@pytest.mark.slow  # two runs, each evaluating 15,000 images in float64: ~10-30 s on 2 shared cores
def test_train_command_gives_every_backend_the_same_batches(tmp_path, mnist_root):
    """`lenet-parity train --backend numpy` and `--backend torch` (float64): the logs agree step by step."""
    recipe = Recipe(epochs=1, log_every=1, limit=192)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for name in ("torch", "numpy"):
            run_training(name, dataset="mnist", data_root=mnist_root, weights_path=WEIGHTS, out=tmp_path / name,
                         recipe=recipe, resume=False, progress=False, dtype="float64")
            assert torch.get_num_threads() == 2  # the numpy run pins torch to 1 thread only while it trains
    finally:
        torch.set_num_threads(threads)
    result = compare_runs(tmp_path / "torch" / "log.csv", tmp_path / "numpy" / "log.csv")
    assert len([r for r in result.rows if r.kind == "batch"]) == 3 and result.only_a == result.only_b == 0
    assert result.largest_train.diff <= 1e-12 and result.largest_val.diff <= 1e-12
    summaries = [json.loads((tmp_path / n / "summary.json").read_text()) for n in ("torch", "numpy")]
    assert summaries[0]["test_acc"] == summaries[1]["test_acc"]
    assert json.loads((tmp_path / "numpy" / "best.json").read_text())["meta"]["backend"] == "numpy"


def test_python_backend_wants_float64():
    with pytest.raises(UserInputError, match="--dtype float64"):
        CustomBackend.from_weights("python", WEIGHTS, lr=0.01, dtype="float32")
    with pytest.raises(ValueError, match="optimizer"):
        CustomBackend.from_weights("numpy", WEIGHTS, lr=0.01, optimizer="rmsprop")


def write_log(path, losses, val_losses, log_every=10):
    """A log.csv in the shared loop's format: a batch row every log_every steps, an epoch row per epoch."""
    rows, per_epoch = [], len(losses) // len(val_losses)
    for i, loss in enumerate(losses, start=1):
        epoch = (i - 1) // per_epoch + 1
        rows.append(dict(kind="batch", epoch=epoch, step=i * log_every, train_loss=loss))
        if i % per_epoch == 0:
            rows.append(dict(kind="epoch", epoch=epoch, step=i * log_every, train_loss=loss, val_loss=val_losses[epoch - 1],
                             val_acc=0.9, epoch_seconds=1.0))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_compare_runs_finds_the_planted_difference(tmp_path):
    rng = np.random.default_rng(7)
    a = list(np.exp(-np.linspace(0, 3, 40)) + 0.05)
    b = [v + rng.normal(0, 1e-4) for v in a]
    b[26] += 0.02  # step 270, in epoch 3 of 4
    write_log(tmp_path / "a.csv", a, [0.5, 0.3, 0.2, 0.15])
    write_log(tmp_path / "b.csv", b, [0.5, 0.31, 0.2, 0.15])
    result = compare_runs(tmp_path / "a.csv", tmp_path / "b.csv", out=tmp_path / "plot.png")
    worst = result.largest_train
    assert (worst.step, worst.epoch) == (270, 3) and worst.diff == pytest.approx(abs(b[26] - a[26]))
    assert (result.largest_val.epoch, result.largest_val.diff) == (2, pytest.approx(0.01))
    assert "at step 270 (epoch 3)" in result.report()
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_runs_aligns_a_shorter_run_and_rejects_non_logs(tmp_path):
    write_log(tmp_path / "long.csv", [1.0] * 40, [0.5] * 4)
    write_log(tmp_path / "short.csv", [1.5] * 20, [0.5] * 2)  # stopped early after 2 epochs
    result = compare_runs(tmp_path / "long.csv", tmp_path / "short.csv")
    assert len(result.rows) == 22 and result.only_a == 22 and result.only_b == 0
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserInputError, match="missing columns"):
        compare_runs(tmp_path / "other.csv", tmp_path / "short.csv")
    with pytest.raises(UserInputError, match="not found"):
        compare_runs(tmp_path / "nope.csv", tmp_path / "short.csv")
