"""The hybrid swapper: gradcheck through the bridge, a fully swapped LeNet equals torch's, params and buffers
follow the torch model, and a failing custom layer surfaces as a SwapError naming it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import WEIGHTS

from lenet_parity.custom_layers import numpy as npl
from lenet_parity.harness.compare import assert_match
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.harness.modes.hybrid import capture_threads
from lenet_parity.harness.swap import Bridge, LossBridge, SwapError, swap, swap_many
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec
from lenet_parity.reference.model import LeNet, build_torch_layer
from lenet_parity.reference.config import VARIANTS_CONFIG
from lenet_parity.reference.weights import build_torch_model



@pytest.fixture(autouse=True)
def one_thread():
    """Tiny torch ops on two busy cores take 20-40 ms with two threads and microseconds with one (measured)."""
    with capture_threads():
        yield


GRADCHECK_CASES = [  # small shapes: gradcheck differentiates every input element
    (LayerSpec("conv", "conv", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1),
                                              padding=1)), (2, 2, 5, 4)),
    (LayerSpec("dense", "dense", "Linear", dict(in_features=5, out_features=3)), (3, 5)),
    (LayerSpec("relu", "relu", "ReLU"), (2, 3, 4)),
    (LayerSpec("pool", "pool", "MaxPool2d", dict(kernel_size=2)), (2, 2, 4, 6)),
    (LayerSpec("logsoftmax", "logsoftmax", "LogSoftmax", dict(dim=1)), (3, 6)),
    (LayerSpec("bn2d", "batchnorm", "BatchNorm2d", dict(num_features=3)), (2, 3, 3, 2)),
    (LayerSpec("bn1d", "batchnorm", "BatchNorm1d", dict(num_features=4)), (5, 4)),
    (LayerSpec("res", "residual", "Residual", dict(channels=2, kernel_size=3)), (1, 2, 4, 3)),
    (LayerSpec("flatten", "flatten", "Flatten"), (2, 2, 3)),
]


def bridge_for(spec: LayerSpec, backend: str = "numpy", dtype=torch.float64, seed: int = 0) -> Bridge:
    torch.manual_seed(seed)
    module = build_torch_layer(spec).to(dtype)
    for p in module.parameters():  # non-trivial values (batchnorm starts at ones and zeros)
        torch.nn.init.normal_(p, std=0.5)
    return Bridge(spec.name, BackendFactory(backend)(spec), module)


@pytest.mark.parametrize("spec, shape", GRADCHECK_CASES, ids=[s.name for s, _ in GRADCHECK_CASES])
def test_bridge_passes_gradcheck(spec, shape):
    bridge = bridge_for(spec)
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in bridge.parameters()]
    assert torch.autograd.gradcheck(bridge.call, (x, *params), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_loss_bridge_passes_gradcheck():
    logp = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 4, 3])
    loss = LossBridge(npl.NLLLoss())
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logp,))


def test_a_later_forward_does_not_change_an_earlier_backward():
    spec = GRADCHECK_CASES[0][0]
    bridge = bridge_for(spec)
    reference = build_torch_layer(spec).double()
    reference.load_state_dict({k: v.detach() for k, v in bridge.state_dict().items()})
    g = torch.Generator().manual_seed(2)
    x1, x2 = (torch.randn(2, 2, 5, 4, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(2))
    y1 = bridge(x1)
    bridge(x2)  # overwrites the layer's cache; y1's backward must still use x1's
    dy = torch.randn(y1.shape, dtype=torch.float64, generator=g)
    (y1 * dy).sum().backward()
    x1_ref = x1.detach().clone().requires_grad_(True)
    (reference(x1_ref) * dy).sum().backward()
    assert_match(x1.grad, x1_ref.grad, dtype="float64", tensor="grad_input")
    assert_match(bridge.weight.grad, reference.weight.grad, dtype="float64", tensor="grad_weight")


def lenet_pair(variants: bool, dtype=torch.float64) -> tuple[LeNet, LeNet]:
    if variants:
        torch.manual_seed(3)
        torch_net = LeNet(VARIANTS_CONFIG).to(dtype)
    else:
        torch_net = build_torch_model(WEIGHTS).to(dtype)
    return torch_net, copy.deepcopy(torch_net)


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("variants", [False, True], ids=["lenet", "variants"])
def test_swapping_every_layer_gives_torchs_outputs_and_gradients(backend, variants):
    torch_net, custom_net = lenet_pair(variants)
    swap_many(custom_net, {spec.name: BackendFactory(backend)(spec) for spec in custom_net.plan})
    assert all(isinstance(getattr(custom_net, n), Bridge) for n in custom_net.layer_names())
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 1, 28, 28, dtype=torch.float64, generator=g)
    target = torch.tensor([3, 0, 7])
    features = {"drop1": 120, "drop2": 84}
    for spec in torch_net.plan:  # the same dropout masks on both sides
        if spec.kind == "dropout":
            mask = torch.bernoulli(torch.full((3, features[spec.name]), 0.5, dtype=torch.float64), generator=g) * 2
            getattr(torch_net, spec.name).next_mask = mask
            getattr(custom_net, spec.name).next_mask = mask
    results = []
    custom_loss = LossBridge(BackendFactory(backend)(LOSS_SPEC))
    for net, loss_fn in ((torch_net, F.nll_loss), (custom_net, custom_loss)):
        xi = x.clone().requires_grad_(True)
        logp = net(xi)
        loss = loss_fn(logp, target)
        loss.backward()
        results.append((logp, loss, xi.grad, dict(net.named_parameters()), dict(net.named_buffers())))
    (logp_t, loss_t, dx_t, params_t, buffers_t), (logp_c, loss_c, dx_c, params_c, buffers_c) = results
    assert_match(logp_c, logp_t, dtype="float64", tensor="output", name="log_probs")
    assert_match(loss_c, loss_t, dtype="float64", tensor="loss", name="loss")
    assert_match(dx_c, dx_t, dtype="float64", tensor="grad_input", name="conv1.grad_input")
    assert params_c.keys() == params_t.keys() and buffers_c.keys() == buffers_t.keys()  # state_dict names unchanged
    for name, p in params_t.items():
        assert_match(params_c[name].grad, p.grad, dtype="float64", tensor="grad_weight", name=f"{name}.grad")
    for name, b in buffers_t.items():  # batchnorm running stats came back from the custom layers
        if "running" in name:
            assert_match(buffers_c[name], b, dtype="float64", tensor="running_mean", name=name)
            assert not torch.equal(b, torch.zeros_like(b)) and not torch.equal(b, torch.ones_like(b))


def test_an_optimiser_step_on_the_torch_model_is_seen_by_the_custom_layer():
    torch_net, custom_net = lenet_pair(False)
    optimizer = torch.optim.SGD(custom_net.parameters(), lr=0.5, momentum=0.9)  # built before the swap
    layer = npl.Conv2d(6, 16, 5)
    swap(custom_net, "conv2", layer)
    reference_opt = torch.optim.SGD(torch_net.parameters(), lr=0.5, momentum=0.9)
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    target = torch.tensor([1, 8])
    outputs, weights_seen = [], []
    for _ in range(2):
        for net, opt in ((torch_net, reference_opt), (custom_net, optimizer)):
            opt.zero_grad()
            logp = net(x)
            F.nll_loss(logp, target).backward()
            outputs.append(logp.detach())
            opt.step()
        weights_seen.append(np.array(layer.params["weight"]))  # what the custom conv computed with
    before_t, before_c, after_t, after_c = outputs
    assert not torch.allclose(before_c, after_c)  # the step changed what the custom conv computes ...
    assert_match(after_c, after_t, dtype="float64", tensor="output", name="log_probs after a step")  # ... as torch's
    assert not np.array_equal(weights_seen[0], weights_seen[1])
    assert_match(weights_seen[1], after_step_weight(torch_net, x, target), dtype="float64", tensor="optim")


def after_step_weight(torch_net: LeNet, x, target) -> np.ndarray:
    """conv2's weight after one SGD step from the pair's initial weights (the torch side replayed)."""
    net = lenet_pair(False)[0]
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    F.nll_loss(net(x), target).backward()
    opt.step()
    return net.conv2.weight.detach().numpy()


def test_buffers_flow_in_and_training_mode_follows_the_module():
    spec = LayerSpec("bn", "batchnorm", "BatchNorm2d", dict(num_features=3))
    bridge = bridge_for(spec)
    torch_bn = build_torch_layer(spec).double()
    torch_bn.load_state_dict(bridge.state_dict())
    with torch.no_grad():
        for bn in (bridge, torch_bn):  # running stats far from the defaults, written on the torch side
            bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
            bn.running_var.copy_(torch.tensor([0.25, 4.0, 1.5]))
    bridge.eval()
    torch_bn.eval()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    assert_match(bridge(x), torch_bn(x), dtype="float64", tensor="output", name="bn eval output")
    assert bridge.layer.training is False
    assert torch.equal(bridge.running_mean, torch_bn.running_mean)  # evaluation leaves them alone
    bridge.train()
    torch_bn.train()
    assert_match(bridge(x), torch_bn(x), dtype="float64", tensor="output", name="bn train output")
    assert bridge.layer.training is True
    assert_match(bridge.running_var, torch_bn.running_var, dtype="float64", tensor="running_var")
    assert int(bridge.num_batches_tracked) == int(torch_bn.num_batches_tracked) == 1


def test_the_bridge_hands_the_layer_a_dropout_mask_when_asked():
    spec = LayerSpec("drop", "dropout", "Dropout", dict(p=0.5))
    bridge = bridge_for(spec)
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    mask = torch.bernoulli(torch.full((4, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(8)) * 2
    bridge.next_mask = mask
    assert torch.equal(bridge(x), x * mask)
    assert torch.equal(bridge.last_mask, mask) and bridge.next_mask is None
    y = bridge(x)  # no mask handed: the layer draws its own
    assert bridge.layer.mask is None and not torch.equal(y, x * mask)



def test_only_a_dropout_layer_has_its_mask_reset_before_a_forward():
    """A ReLU that keeps its own ``mask`` (the sign of its last input) is left alone: only dropout takes one."""

    class MaskedReLU:
        array_kind = "numpy"

        def __init__(self):
            self.params, self.grads, self.mask, self.seen = {}, {}, None, []

        def forward(self, x):
            self.seen.append(self.mask)
            self.mask = x > 0
            return x * self.mask

        def backward(self, dy):
            return dy * self.mask

    module = build_torch_layer(LayerSpec("relu1", "relu", "ReLU", {}))
    bridge = Bridge("relu1", MaskedReLU(), module)
    x = torch.randn(3, 4, dtype=torch.float64)
    bridge(x), bridge(x)
    assert bridge.layer.seen[0] is None and np.array_equal(bridge.layer.seen[1], x.numpy() > 0)

class RaisesIn:
    """A ReLU that raises in the named method."""

    array_kind = "numpy"

    def __init__(self, method: str):
        self.method, self.params, self.grads = method, {}, {}

    def forward(self, x):
        if self.method == "forward":
            raise ValueError("bad forward")
        return np.maximum(x, 0)

    def backward(self, dy):
        raise RuntimeError("bad backward")


class Returns(npl.ReLU):
    """A ReLU whose forward returns something else: a wrong shape, NaN, or None."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def forward(self, x):
        y = super().forward(x)
        return {"shape": y[:, :1], "nan": y * np.nan, "none": None}[self.what]


class NoBiasGrad(npl.Conv2d):
    def backward(self, dy):
        dx = super().backward(dy)
        del self.grads["bias"]
        return dx


@pytest.mark.parametrize("layer, stage, words", [
    (RaisesIn("forward"), "forward", "ValueError: bad forward"),
    (RaisesIn("backward"), "backward", "RuntimeError: bad backward"),
    (Returns("shape"), "forward", "expected (2, 6, 24, 24)"),
    (Returns("nan"), "forward", "NaN"),
    (Returns("none"), "forward", "is None"),
], ids=["raises-forward", "raises-backward", "wrong-shape", "nan", "none"])
def test_a_failing_layer_raises_a_swap_error_naming_it(layer, stage, words):
    net = swap(build_torch_model(WEIGHTS), "relu1", layer)
    with pytest.raises(SwapError) as info:
        F.nll_loss(net(torch.randn(2, 1, 28, 28)), torch.tensor([0, 1])).backward()
    assert info.value.layer_name == "relu1" and info.value.stage == stage
    assert "relu1" in str(info.value) and words in str(info.value)


def test_missing_param_gradient_and_bad_swaps_are_named():
    net = swap(build_torch_model(WEIGHTS), "conv1", NoBiasGrad(1, 6, 5))
    with pytest.raises(SwapError, match=r"conv1 \(backward\).*lacks \['bias'\]"):
        F.nll_loss(net(torch.randn(2, 1, 28, 28)), torch.tensor([0, 1])).backward()
    with pytest.raises(ValueError, match="already swapped"):
        swap(net, "conv1", npl.Conv2d(1, 6, 5))
    with pytest.raises(ValueError, match="no submodule 'conv9'"):
        swap(net, "conv9", npl.Conv2d(1, 6, 5))
    no_params = RaisesIn("forward")
    del no_params.params
    with pytest.raises(SwapError, match="has no params dict"):
        swap(net, "fc1", no_params)
