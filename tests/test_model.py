"""The reference LeNet: names and shapes as designed, options, deterministic seeded initialisation."""

import pytest
import torch

from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.determinism import seed_everything
from lenet_parity.reference.layers import layer_plan
from lenet_parity.reference.model import LeNet

BASE_NAMES = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2", "relu4", "fc3", "logsoftmax"]


def test_names_and_shapes_in_forward_order():
    model = LeNet()
    assert [name for name, _ in model.named_children()] == BASE_NAMES
    shapes = {}
    x = torch.randn(2, 1, 28, 28)
    for name in BASE_NAMES:
        x = getattr(model, name)(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["conv1"] == (6, 24, 24) and shapes["pool1"] == (6, 12, 12)
    assert shapes["conv2"] == (16, 8, 8) and shapes["pool2"] == (16, 4, 4)
    assert shapes["flatten"] == (256,) and shapes["fc1"] == (120,) and shapes["fc2"] == (84,)
    assert shapes["logsoftmax"] == (10,)
    assert torch.allclose(x.exp().sum(1), torch.ones(2))


def test_options_add_named_layers():
    config = LeNetConfig(residual=True, batchnorm=True, dropout=0.5)
    names = [spec.name for spec in layer_plan(config)]
    assert names == ["conv1", "bn1", "relu1", "pool1", "res1", "conv2", "bn2", "relu2", "pool2", "flatten",
                     "fc1", "bn3", "relu3", "drop1", "fc2", "bn4", "relu4", "drop2", "fc3", "logsoftmax"]
    model = LeNet(config)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_cifar_config_adapts():
    config = LeNetConfig(in_channels=3, image_size=32)
    assert config.flat_features == 16 * 5 * 5
    assert LeNet(config)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_bad_config_refused():
    with pytest.raises(ValueError, match="too small"):
        LeNetConfig(image_size=12)
    with pytest.raises(ValueError, match="dropout"):
        LeNetConfig(dropout=1.0)


def test_seeded_init_is_deterministic_and_he_scaled():
    seed_everything(42)
    a = LeNet().state_dict()
    seed_everything(42)
    b = LeNet().state_dict()
    seed_everything(43)
    c = LeNet().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])
    # He normal: std = sqrt(2 / fan_in); fc1 has 30,720 weights, so the sample std is within ~1%
    assert abs(a["fc1.weight"].std().item() / (2 / 256) ** 0.5 - 1) < 0.03
    assert torch.count_nonzero(a["fc1.bias"]) == 0
