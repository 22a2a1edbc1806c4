"""harness/torch_cache.py: torch's half of the sweep, hybrid and train modes computed once per key and shared.

The evidence is ``torch_cache.computed`` (values computed, by kind), never a clock: a second identical run
computes nothing, another seed, dtype, weights file or option computes anew, a caller's write into what it was
handed never reaches the next caller, and the rows are the same with the cache as without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import PHASE0, WEIGHTS

from lenet_parity.custom_layers import numpy as npl
from lenet_parity.golden_pins import pinned
from lenet_parity.harness import torch_cache
from lenet_parity.harness.context import CheckContext, TrainOptions
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue
from lenet_parity.harness.modes.hybrid import capture_threads, model_source, run_hybrid
from lenet_parity.harness.modes.sweep import own_configs, run_sweep, sweep_case
from lenet_parity.harness.modes.train_steps import run_train
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import export_weights
from lenet_parity.vocabulary import DEFAULT_TRAIN_BATCHES


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


@pytest.fixture(autouse=True)
def empty_cache():
    torch_cache.clear()
    with capture_threads():  # one thread, as the modes run torch: the thread count is part of every key
        yield
    torch_cache.clear()


class NegatedBiasGrad(npl.Conv2d):
    """A one-bug layer: the rows then carry errors, worst indices and diagnoses to compare too."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bias"] = -self.grads["bias"]
        return dx


def one_bug(spec):
    return NegatedBiasGrad(**spec.kwargs) if spec.name == "conv1" else BackendFactory("numpy")(spec)


def conv1_case(phase0, dtype="float64", seed=0):
    spec = layer_catalogue(phase0)["conv1"][1]
    return sweep_case(spec, own_configs(spec)[0], dtype, "test/conv1", seed)


def test_a_second_identical_sweep_case_is_not_computed_again(phase0):
    first = conv1_case(phase0)
    assert torch_cache.computed["sweep"] == 1
    again = conv1_case(phase0)
    assert torch_cache.computed["sweep"] == 1
    np.testing.assert_array_equal(again.expected["grad_weight"], first.expected["grad_weight"])


@pytest.mark.parametrize("other", [dict(seed=1), dict(dtype="float32")])
def test_another_seed_or_dtype_is_computed_anew(phase0, other):
    first = conv1_case(phase0)
    second = conv1_case(phase0, **other)
    assert torch_cache.computed["sweep"] == 2
    assert not np.array_equal(second.x, first.x) or second.x.dtype != first.x.dtype


def test_writing_into_a_handed_out_case_changes_nothing_for_the_next(phase0):
    first = conv1_case(phase0)
    x, output = first.x.copy(), first.expected["output"].copy()
    first.x[...] = 7  # what a layer's in-place write, mirrored by the checker, would do
    first.expected["output"] += 1
    first.params["weight"][...] = 0
    again = conv1_case(phase0)
    np.testing.assert_array_equal(again.x, x)
    np.testing.assert_array_equal(again.expected["output"], output)
    assert again.params["weight"].any()


def test_shared_hands_out_copies_of_arrays_and_tensors():
    value = {"a": np.arange(3.0), "t": torch.ones(2)}
    got = torch_cache.shared("demo", ("k",), lambda: value)
    got["a"][0], got["t"][0] = 9, 9
    again = torch_cache.shared("demo", ("k",), lambda: pytest.fail("computed twice"))
    assert again["a"][0] == 0 and again["t"][0] == 1


def test_a_copy_leaves_the_graph_and_keeps_a_leafs_gradient():
    w = torch.ones(3, requires_grad=True)
    y = (2 * w).sum()
    y.backward()
    a = np.zeros(2)
    kept = torch_cache.copied({"w": w, "y": y, "case": (a, [w])})
    assert not kept["y"].requires_grad and kept["y"].item() == 6
    assert torch.equal(kept["w"].grad, w.grad) and kept["w"].grad is not w.grad
    assert not np.shares_memory(kept["case"][0], a) and kept["case"][1][0] is not w


def test_a_compute_that_raises_caches_nothing():
    with pytest.raises(ZeroDivisionError):
        torch_cache.shared("demo", ("k",), lambda: 1 / 0)
    assert torch_cache.shared("demo", ("k",), lambda: 5) == 5


def test_digest_tells_dtype_shape_and_values_apart():
    a = np.arange(4.0)
    assert torch_cache.digest(a) == torch_cache.digest(a.copy()) == torch_cache.digest(torch.arange(4.0,
                                                                                                    dtype=torch.float64))
    others = [a.astype(np.float32), a.reshape(2, 2), a + 1, [a], {"x": a}]
    assert len({torch_cache.digest(a), *map(torch_cache.digest, others)}) == 1 + len(others)


def test_golden_files_key_by_their_pinned_seal(tmp_path):
    assert model_source("lenet", WEIGHTS, 42) is None  # not pinned: nothing cached
    torch.manual_seed(7)
    other = tmp_path / "other.json"
    export_weights(LeNet(), other, seed=7)
    with pinned(WEIGHTS, other):
        assert model_source("lenet", WEIGHTS, 42) != model_source("lenet", other, 42) is not None
    assert model_source("lenet_variants", WEIGHTS, 42) != model_source("lenet_variants", WEIGHTS, 43)


def hybrid_rows(phase0, make_layer, dtype="float64"):
    context = CheckContext(make_layer, phase0=phase0, weights_path=WEIGHTS, dtype=dtype)
    with pinned(WEIGHTS):
        return [r.to_json() for r in run_hybrid(["conv1", "drop1"], context)]


def test_the_hybrid_reference_is_computed_once_per_dtype(phase0):
    first = hybrid_rows(phase0, one_bug)
    computed = torch_cache.computed["hybrid"]
    assert computed == 2  # LeNet's conv1 and the variants' drop1
    assert hybrid_rows(phase0, one_bug) == first
    assert torch_cache.computed["hybrid"] == computed
    hybrid_rows(phase0, one_bug, dtype="float32")
    assert torch_cache.computed["hybrid"] == 2 * computed


def test_without_pinned_weights_nothing_is_cached(phase0):
    context = CheckContext(one_bug, phase0=phase0, weights_path=WEIGHTS)
    run_hybrid(["conv1"], context)
    run_hybrid(["conv1"], context)
    assert torch_cache.computed["hybrid"] == 2 and not torch_cache._values


def train_rows(phase0, data_root, weights=WEIGHTS, **options):
    options = {"steps": 2, "batch_size": 4, **options}
    context = CheckContext(one_bug, phase0=phase0, weights_path=weights, data_root=data_root,
                           train=TrainOptions(**options))
    with pinned(weights, DEFAULT_TRAIN_BATCHES):
        return [r.to_json() for r in run_train(["conv1"], context)]


def test_the_train_reference_is_computed_once_per_recipe_and_weights(phase0, mnist_root, tmp_path):
    first = train_rows(phase0, mnist_root)
    assert torch_cache.computed["train"] == 1
    assert train_rows(phase0, mnist_root) == first
    assert torch_cache.computed["train"] == 1 and torch_cache.computed["batches"] == 1
    train_rows(phase0, mnist_root, lr=0.02)
    train_rows(phase0, mnist_root, seed=43)  # another batch order: the batches come from MNIST itself
    assert torch_cache.computed["train"] == 3 and torch_cache.computed["batches"] == 2
    torch.manual_seed(7)
    other = tmp_path / "other.json"
    export_weights(LeNet(), other, seed=7)
    other_rows = train_rows(phase0, mnist_root, weights=other)
    assert torch_cache.computed["train"] == 4 and other_rows != first


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rows_with_the_cache_equal_rows_without(phase0, mnist_root, monkeypatch, dtype):
    def rows():
        context = CheckContext(one_bug, phase0=phase0, weights_path=WEIGHTS, data_root=mnist_root, dtype=dtype,
                               train=TrainOptions(steps=2, batch_size=4))
        with pinned(WEIGHTS, DEFAULT_TRAIN_BATCHES):
            found = run_hybrid(["conv1"], context) + run_train(["conv1"], context)
            found += run_sweep(["conv1"], context)
        return [r.to_json() for r in found]

    cold, warm = rows(), rows()
    assert torch_cache.computed["sweep"] > 0 and torch_cache._values
    monkeypatch.setattr(torch_cache, "enabled", False)
    assert cold == warm == rows()
    assert any(not r["passed"] for r in cold)  # the bug is found alike
