"""``lenet-parity infer``: accuracy, confusion matrix, throughput, and the per-image comparison with torch."""

import numpy as np
import pytest

from lenet_parity.errors import UserInputError
from lenet_parity.custom_lenet import infer as infer_module
from lenet_parity.custom_lenet.infer import infer, top2_margin

from conftest import WEIGHTS


@pytest.mark.parametrize("backend,limit", [("numpy", 300), ("python", 12)])
def test_infer_compare_torch_on_a_small_limit(mnist_root, tmp_path, backend, limit):
    result = infer(backend, WEIGHTS, dtype="float64", data_root=mnist_root, limit=limit, compare="torch",
                   confusion_png=tmp_path / "confusion.png", progress=False)
    assert result.n == limit and result.confusion.sum() == limit
    assert np.trace(result.confusion) == result.correct == result.compare_correct  # the same predictions as torch
    assert result.disagreements == [] and result.passed
    assert result.images_per_second > 0 and result.ms_per_image > 0
    assert "0 of" in result.report() and "confusion matrix" in result.report()
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_disagreements_are_listed_with_both_margins(mnist_root, monkeypatch):
    """Planted predictions: one near-tie (a rounding-level swap) and one real difference."""
    rng = np.random.default_rng(1)
    base = np.log(rng.dirichlet(np.ones(10), size=20))  # (20, 10) log-probabilities
    ref = base.copy()
    ours = base.copy()
    top = base.argmax(axis=1)
    second = np.argsort(base, axis=1)[:, -2]
    ref[4, second[4]] = ref[4, top[4]] - 1e-13  # torch: a near-tie between its two best classes
    ours[4, second[4]] = ours[4, top[4]] + 1e-13  # ours: the other way round
    ours[9, second[9]] = ours[9, top[9]] + 0.5  # ours: a different class by a wide margin

    def fake_predictor(backend, weights, dtype):
        logp = ref if backend == "torch" else ours
        return lambda x: logp[int(x[0, 0, 0, 0].item()):][:len(x)]

    monkeypatch.setattr(infer_module, "_predictor", fake_predictor)
    monkeypatch.setattr(infer_module, "load_test_set", lambda *a: (index_images(20), np.arange(20) % 10))
    result = infer("numpy", WEIGHTS, dtype="float64", data_root=mnist_root, limit=20, batch_size=8,
                   compare="torch", progress=False)
    assert [(d.index, d.ours, d.torch) for d in result.disagreements] == [(4, second[4], top[4]), (9, second[9], top[9])]
    near, far = result.disagreements
    assert near.near_tie and near.margin_torch == pytest.approx(1e-13, rel=1e-2)
    assert not far.near_tie and far.margin_ours == pytest.approx(0.5)
    assert not result.passed and "FAIL 1 differences are not near-ties" in result.report()


def index_images(n):
    """Images whose first pixel holds their index, so the fake predictor knows which rows it was given."""
    import torch

    x = torch.zeros(n, 1, 28, 28, dtype=torch.float64)
    x[:, 0, 0, 0] = torch.arange(n, dtype=torch.float64)
    return x


def test_top2_margin():
    logp = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    assert top2_margin(logp) == pytest.approx([np.log(0.5 / 0.3), np.log(0.8 / 0.1)])


def test_infer_refuses_bad_input(mnist_root):
    with pytest.raises(UserInputError, match="--dtype float64"):
        infer("python", WEIGHTS, dtype="float32", data_root=mnist_root)
    with pytest.raises(UserInputError, match="unknown backend"):
        infer("jax", WEIGHTS, data_root=mnist_root)
    with pytest.raises(UserInputError, match="only 'torch'"):
        infer("numpy", WEIGHTS, data_root=mnist_root, compare="numpy")
    with pytest.raises(UserInputError, match="not found"):
        infer("numpy", "nope.json", data_root=mnist_root)
