"""CustomLeNet (numpy, python) against torch: Phase 0 forward/backward, the variants, and weights round trips."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lenet_parity.errors import UserInputError
from lenet_parity.harness.compare import assert_match
from lenet_parity.custom_lenet.model import CustomLeNet, NumpyLeNet, PythonLeNet
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.determinism import seed_everything
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import build_torch_model, export_weights, read_weights

from conftest import PHASE0, WEIGHTS, resealed

VARIANTS = LeNetConfig(residual=True, batchnorm=True, dropout=0.5)


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


def nll(logp, target, backend):
    """Our loss layer of the backend: (loss, dlogp)."""
    from importlib import import_module

    loss = import_module(f"lenet_parity.custom_layers.{backend}").NLLLoss()
    value = loss.forward(logp, target if backend == "numpy" else list(target))
    return value, loss.backward()


CASES = [("numpy", "float64"), ("numpy", "float32"), ("python", "float64")]


@pytest.mark.parametrize("backend,dtype", CASES)
def test_whole_model_matches_phase0(phase0, backend, dtype):
    """Every layer's output and dx, every param grad, log-probs and loss of the Phase 0 batch (N=4)."""
    cap = phase0.capture("lenet", dtype)
    model = CustomLeNet.from_weights(backend, WEIGHTS, dtype)
    outputs, dxs = {}, {}
    logp = model.forward(cap.input, trace=outputs)
    assert_match(np.asarray(logp), cap.log_probs, dtype=dtype, tensor="output", name="log_probs")
    loss, dlogp = nll(logp, np.array(cap.targets), backend)
    assert_match(loss, cap.loss, dtype=dtype, tensor="loss", name="loss")
    assert_match(np.asarray(dlogp), cap.dlogp, dtype=dtype, tensor="grad_input", name="loss.dx")
    model.backward(dlogp, trace=dxs)
    grads = model.grads
    for record in cap.layers:  # forward pass went well, then backward pass went well, layer by layer
        assert_match(np.asarray(outputs[record.name]), record.y, dtype=dtype, tensor="output", name=f"{record.name}.y")
        assert_match(np.asarray(dxs[record.name]), record.dx, dtype=dtype, tensor="grad_input", name=f"{record.name}.dx")
        for key, expected in record.grads.items():
            assert_match(np.asarray(grads[f"{record.name}.{key}"]), expected, dtype=dtype, tensor=f"grad_{key}",
                         name=f"{record.name}.{key}.grad")
    assert sorted(grads) == sorted(f"{r.name}.{k}" for r in cap.layers for k in r.grads)
    if backend == "numpy":
        assert np.asarray(logp).dtype == np.dtype(dtype)


def torch_variants(seed=3):
    """A seeded float64 torch LeNet with residual, batchnorm and dropout, batchnorm state not at its defaults."""
    seed_everything(seed)
    reference = LeNet(VARIANTS).double()
    with torch.no_grad():  # non-trivial batchnorm params and buffers, so that a mixed-up name shows
        for name, t in reference.named_parameters():
            if name.startswith("bn"):
                t.copy_(torch.randn_like(t) * 0.3 + (1.0 if name.endswith("weight") else 0.0))
        for name, t in reference.named_buffers():
            if "running" in name:
                t.copy_(torch.rand_like(t) + (0.5 if name.endswith("var") else -0.5))
    return reference


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_variants_follow_torch_in_training_and_eval(tmp_path, backend):
    """Residual + batchnorm + dropout: one training pass with torch's dropout masks, then evaluation mode."""
    reference = torch_variants()
    export_weights(reference, tmp_path / "w.json", seed=3)
    model = CustomLeNet.from_weights(backend, tmp_path / "w.json", "float64")
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)
    target = torch.tensor([3, 1, 4, 1])
    for i, name in ((1, "drop1"), (2, "drop2")):  # the same keep-masks on both sides
        width = (120, 84)[i - 1]
        mask = torch.bernoulli(torch.full((4, width), 0.5, dtype=torch.float64), generator=g) / 0.5
        getattr(reference, name).next_mask = mask
        model.layers[name].mask = mask.numpy() if backend == "numpy" else mask.tolist()

    reference.train()
    model.train()
    xr = x.clone().requires_grad_(True)
    logp_ref = reference(xr)
    loss_ref = F.nll_loss(logp_ref, target)
    loss_ref.backward()
    logp = model.forward(x)
    loss, dlogp = nll(logp, target.numpy(), backend)
    dx = model.backward(dlogp)
    assert_match(np.asarray(logp), logp_ref, dtype="float64", tensor="output", name="log_probs")
    assert_match(loss, loss_ref.item(), dtype="float64", tensor="loss", name="loss")
    assert_match(np.asarray(dx), xr.grad, dtype="float64", tensor="grad_input", name="conv1.dx")
    grads = model.grads
    for name, p in reference.named_parameters():
        assert_match(np.asarray(grads[name]), p.grad, dtype="float64", tensor="grad_weight", name=f"{name}.grad")
    state = model.state_dict()
    for name, t in reference.state_dict().items():  # running stats updated, num_batches_tracked counted
        kind = "running_var" if name.endswith("running_var") else "running_mean"
        assert_match(np.asarray(state[name], dtype=np.float64), t, dtype="float64", tensor=kind, name=name)

    reference.eval()
    model.eval()
    with torch.no_grad():
        expected = reference(x)
    assert_match(np.asarray(model.forward(x)), expected, dtype="float64", tensor="output", name="eval log_probs")
    assert model.state_dict()["bn1.num_batches_tracked"] == 1  # evaluation does not count


def test_weights_round_trip_through_every_backend(tmp_path):
    """seed-42 JSON -> numpy float32 -> python -> numpy float64 -> torch: every value bit-exact."""
    NumpyLeNet().load_weights(WEIGHTS)  # the named entry points build the same model
    a = CustomLeNet.from_weights("numpy", WEIGHTS, "float32")
    a.save_weights(tmp_path / "a.json", seed=42)
    b = PythonLeNet()
    b.load_weights(tmp_path / "a.json")
    b.save_weights(tmp_path / "b.json")
    c = CustomLeNet.from_weights("numpy", tmp_path / "b.json", "float64")
    c.save_weights(tmp_path / "c.json")
    original = build_torch_model(WEIGHTS).state_dict()
    for path in ("a.json", "b.json", "c.json"):
        back = build_torch_model(tmp_path / path).state_dict()
        assert list(back) == list(original)  # torch's names, in torch's order
        for name in original:
            assert torch.equal(back[name], original[name]), f"{path}: {name} changed"
    doc_a = json.loads((tmp_path / "a.json").read_text())
    doc_0 = json.loads(WEIGHTS.read_text())
    assert doc_a["tensors"] == doc_0["tensors"]  # float32 written the same way as the torch export
    assert read_weights(tmp_path / "b.json").tensors["fc3.bias"][2] == "float64"


def test_batchnorm_state_round_trips_with_its_counter(tmp_path):
    reference = torch_variants(seed=11)
    reference.bn2.num_batches_tracked.fill_(7)
    export_weights(reference.float(), tmp_path / "v.json", seed=11)
    model = CustomLeNet.from_weights("numpy", tmp_path / "v.json", "float32")
    assert model.state_dict()["bn2.num_batches_tracked"] == 7
    model.save_weights(tmp_path / "v2.json")
    back = build_torch_model(tmp_path / "v2.json").state_dict()
    for name, t in reference.state_dict().items():
        assert torch.equal(back[name], t), name


def test_load_refuses_what_does_not_fit(tmp_path):
    model = CustomLeNet("numpy", LeNetConfig(), "float32")
    with pytest.raises(UserInputError, match="written for"):
        CustomLeNet("numpy", LeNetConfig(batchnorm=True), "float32").load_weights(WEIGHTS)
    doc = json.loads(WEIGHTS.read_text())
    record = next(r for r in doc["tensors"] if r["name"] == "fc2.weight")
    record["shape"] = [84, 60, 2]
    (tmp_path / "bad.json").write_text(resealed(json.dumps(doc)))
    with pytest.raises(UserInputError, match=r"fc2\.weight \(84, 60, 2\) != \(84, 120\)"):
        model.load_weights(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="expected \\(N, 1, 28, 28\\)"):
        model.forward(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(UserInputError, match="float64"):
        CustomLeNet("python", LeNetConfig(), "float32")
    with pytest.raises(UserInputError, match="backend"):
        CustomLeNet("cuda", LeNetConfig(), "float32")


def test_train_and_eval_reach_every_layer_that_cares():
    model = CustomLeNet("numpy", VARIANTS, "float32")
    moded = [n for n, layer in model.layers.items() if hasattr(layer, "training")]
    assert {"bn1", "bn2", "bn3", "bn4", "drop1", "drop2"} <= set(moded)
    model.eval()
    assert not any(model.layers[n].training for n in moded)
    model.train()
    assert all(model.layers[n].training for n in moded)
    assert model.num_params() == sum(p.numel() for p in LeNet(VARIANTS).parameters())
