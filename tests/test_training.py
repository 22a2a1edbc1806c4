"""The shared training loop: CSV log, patience early stopping, best checkpoint, bit-exact resume."""

import csv
import json

import pytest
import torch

from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.determinism import seed_everything
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.torch_backend import TorchBackend
from lenet_parity.reference.training import Recipe, batch_order, random_shift, train


def tiny_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return {"train": (x[:64], y[:64]), "val": (x[64:80], y[64:80]), "test": (x[80:], y[80:])}


def torch_backend(seed=1):
    seed_everything(seed)
    return TorchBackend(LeNet(LeNetConfig()), lr=0.01, momentum=0.9)


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_csv_log_and_summary(tmp_path):
    recipe = Recipe(batch_size=8, epochs=2, log_every=3, patience=5, eval_batch_size=7)
    summary = train(torch_backend(), tiny_data(), recipe, tmp_path, progress=False)
    rows = read_csv(tmp_path / "log.csv")
    assert list(rows[0]) == ["kind", "epoch", "step", "train_loss", "val_loss", "val_acc", "epoch_seconds"]
    batch_steps = [int(r["step"]) for r in rows if r["kind"] == "batch"]
    assert batch_steps == [3, 6, 9, 12, 15]  # 8 batches an epoch, a row every 3
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert [int(r["epoch"]) for r in epochs] == [1, 2] and all(float(r["epoch_seconds"]) > 0 for r in epochs)
    assert json.loads((tmp_path / "summary.json").read_text())["test_acc"] == summary["test_acc"]
    assert summary["torch_version"] == torch.__version__


class ScriptedBackend:
    """A backend whose validation loss follows a script, to test early stopping in isolation."""

    name = "scripted"

    def __init__(self, val_losses):
        self.val_losses, self.epoch, self.saved = list(val_losses), 0, []

    def train_step(self, x, y):
        return 1.0

    def set_lr(self, lr):
        self.lr = lr

    def evaluate(self, x, y):
        return self.val_losses[min(self.epoch, len(self.val_losses) - 1)] * len(x), 0

    def save_weights(self, path, meta):
        self.saved.append(meta["epoch"])
        path.write_text(json.dumps(meta))

    def load_weights(self, path):
        self.loaded = json.loads(path.read_text())["epoch"]

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def test_patience_two_early_stopping_keeps_the_best(tmp_path, monkeypatch):
    backend = ScriptedBackend([0.9, 0.5, 0.6, 0.4, 0.45, 0.5, 0.1])
    original = backend.evaluate
    calls = {"n": 0}

    def evaluate(x, y):  # val is evaluated once an epoch, then test once at the end
        result = original(x, y)
        calls["n"] += 1
        backend.epoch = calls["n"]
        return result

    backend.evaluate = evaluate
    summary = train(backend, tiny_data(), Recipe(batch_size=32, epochs=10, patience=2, eval_batch_size=1000), tmp_path,
                    progress=False)
    assert summary["epochs_run"] == 6 and summary["stopped_early"]  # 0.4 at epoch 4, then two worse epochs
    assert summary["best_epoch"] == 4 and backend.saved == [1, 2, 4] and backend.loaded == 4


def test_learning_rate_decays_per_epoch(tmp_path):
    backend = ScriptedBackend([1.0, 0.9, 0.8])
    seen = []
    backend.set_lr = seen.append
    train(backend, tiny_data(), Recipe(batch_size=32, epochs=3, lr=0.1, lr_decay=0.5), tmp_path, progress=False)
    assert seen == pytest.approx([0.1, 0.05, 0.025])


def test_interrupted_run_resumes_bit_exactly(tmp_path):
    recipe = Recipe(batch_size=8, epochs=3, log_every=4, patience=5)
    train(torch_backend(), tiny_data(), recipe, tmp_path / "straight", progress=False)

    backend = torch_backend()
    real_step, steps = backend.train_step, {"n": 0}

    def interrupted(x, y):
        steps["n"] += 1
        if steps["n"] == 13:  # in the middle of epoch 2
            raise KeyboardInterrupt
        return real_step(x, y)

    backend.train_step = interrupted
    with pytest.raises(KeyboardInterrupt):
        train(backend, tiny_data(), recipe, tmp_path / "resumed", progress=False)
    assert len([r for r in read_csv(tmp_path / "resumed" / "log.csv") if r["kind"] == "epoch"]) == 1
    train(torch_backend(seed=99), tiny_data(), recipe, tmp_path / "resumed", progress=False)  # state comes from disk

    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]  # noqa: E731
    assert strip(read_csv(tmp_path / "straight" / "log.csv")) == strip(read_csv(tmp_path / "resumed" / "log.csv"))
    a = json.loads((tmp_path / "straight" / "best.json").read_text())["tensors"]
    b = json.loads((tmp_path / "resumed" / "best.json").read_text())["tensors"]
    assert a == b


def test_resume_refuses_another_recipe(tmp_path):
    train(torch_backend(), tiny_data(), Recipe(batch_size=8, epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="belongs to another run"):
        train(torch_backend(), tiny_data(), Recipe(batch_size=16, epochs=1), tmp_path, progress=False)


def test_batch_order_is_a_seeded_function_of_the_epoch():
    a, b = batch_order(100, 32, 42, 1), batch_order(100, 32, 42, 1)
    assert all(torch.equal(p, q) for p, q in zip(a, b)) and [len(p) for p in a] == [32, 32, 32, 4]
    assert sorted(torch.cat(a).tolist()) == list(range(100))
    assert not torch.equal(torch.cat(a), torch.cat(batch_order(100, 32, 42, 2)))


def test_random_shift_moves_content_and_fills_background():
    x = torch.full((50, 1, 6, 6), -1.0)
    x[:, :, 2:4, 2:4] = 5.0  # a bright 2x2 square in the middle
    g = torch.Generator().manual_seed(0)
    shifted = random_shift(x, 2, g, -1.0)
    assert shifted.shape == x.shape
    assert torch.all((shifted == 5.0).sum(dim=(1, 2, 3)) == 4)  # the square is never cut off (|shift| <= 2)
    assert torch.all((shifted == -1.0) | (shifted == 5.0))
    moved = [(s[0] == 5.0).nonzero()[0].tolist() for s in shifted]
    assert len({tuple(m) for m in moved}) > 5  # offsets vary across the batch
    assert torch.equal(random_shift(x, 0, g, -1.0), x)
