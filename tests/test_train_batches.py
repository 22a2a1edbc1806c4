"""The train mode's batches ship in the package: the same tensors as MNIST's, sealed, and MNIST only beyond them."""

import json

import pytest
import torch
from click.testing import CliRunner

from conftest import ROOT, WEIGHTS, resealed
from lenet_parity.errors import UserInputError
from lenet_parity.harness.cli import main
from lenet_parity.harness.modes.train_steps import mnist_batches
from lenet_parity.reference.datasets import normalised_batches
from lenet_parity.reference.train_batches import SHIPPED_IMAGES, read_train_batches, write_train_batches
from lenet_parity.reference.training import batch_order
from lenet_parity.vocabulary import DEFAULT_TRAIN_BATCHES

SHIPPED = ROOT / "phase0" / "_train_batches.json"


def test_the_packaged_file_is_the_repository_file():
    assert DEFAULT_TRAIN_BATCHES.resolve() == SHIPPED.resolve() or DEFAULT_TRAIN_BATCHES.read_bytes() == SHIPPED.read_bytes()


@pytest.mark.parametrize("batch_size, steps", [(32, 20), (8, 20), (64, 20), (8, 3), (5, 7)])
def test_shipped_batches_are_the_training_loops_mnist_batches(mnist_root, batch_size, steps):
    shipped = mnist_batches(ROOT / "nowhere", steps, batch_size, 42)  # no data folder: from the package
    from_mnist = normalised_batches("mnist", mnist_root, batch_order(60_000, batch_size, 42, 1)[:steps])
    assert len(shipped) == steps
    for (x, y), (x_ref, y_ref) in zip(shipped, from_mnist):
        assert x.dtype == torch.float32 and torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_beyond_the_shipped_batches_mnist_is_read_and_its_absence_named(tmp_path, mnist_root):
    with pytest.raises(UserInputError, match="mnist not found in .*nowhere"):
        mnist_batches(tmp_path / "nowhere", 1, 64, seed=7)  # another seed
    with pytest.raises(UserInputError, match="mnist not found"):
        mnist_batches(tmp_path / "nowhere", 21, 64, seed=42)  # more images than shipped
    assert len(mnist_batches(mnist_root, 1, SHIPPED_IMAGES + 1, seed=42)[0][1]) == SHIPPED_IMAGES + 1


def test_make_phase0_rewrites_the_shipped_file(tmp_path, mnist_root):
    out = tmp_path / "batches.json"
    write_train_batches(mnist_root, out)
    ours, shipped = json.loads(out.read_text()), json.loads(SHIPPED.read_text())
    if ours["torch_version"] == shipped["torch_version"]:
        assert out.read_bytes() == SHIPPED.read_bytes()  # integers only: the same bytes on every CPU
    unrecorded = ("torch_version", "content_sha256")  # another torch within the supported range writes its own
    assert {k: v for k, v in ours.items() if k not in unrecorded} == {k: v for k, v in shipped.items() if k not in unrecorded}


def test_check_names_the_data_root_when_the_train_mode_needs_mnist(tmp_path):
    result = CliRunner().invoke(main, ["check", "relu", "--mode", "train", "--steps", "21", "--batch-size", "64", "--data-root",
                                       str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "mnist not found" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(seed=43) or json.dumps(d), "does not match its content_sha256"),
    (lambda d: resealed(json.dumps({**d, "seed": 43})), "not epoch 1's order for seed 43"),
])
def test_a_damaged_file_is_refused_with_the_fix(tmp_path, damage, message):
    bad = tmp_path / "_train_batches.json"
    bad.write_text(damage(json.loads(SHIPPED.read_text())))
    with pytest.raises(UserInputError, match=f"{message}.*run: make phase0"):
        read_train_batches(bad)
