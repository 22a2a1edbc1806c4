"""weights/lenet_seed42.json: bit-exact round trip, validated names and shapes, clear errors, CLI exit 2."""

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from conftest import WEIGHTS, resealed
from lenet_parity.errors import UserInputError
from lenet_parity.harness.cli import main
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.determinism import seed_everything
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.weights import build_torch_model, export_weights, load_into_torch, read_weights


@pytest.mark.parametrize("config", [LeNetConfig(), LeNetConfig(residual=True, batchnorm=True, dropout=0.5)])
def test_round_trip_is_bit_exact(tmp_path, config):
    seed_everything(7)
    model = LeNet(config)
    if config.batchnorm:  # make the buffers non-trivial
        model.train()
        model(torch.randn(8, 1, 28, 28))
    path = tmp_path / "w.json"
    export_weights(model, path, seed=7)
    again = build_torch_model(path)
    assert again.config == config
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert a.dtype == b.dtype and torch.equal(a, b), name


def test_committed_weights_are_the_seed42_init():
    weights = read_weights(WEIGHTS)
    assert weights.seed == 42 and weights.config == LeNetConfig()
    seed_everything(42)
    fresh = LeNet()
    loaded = build_torch_model(WEIGHTS)
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_export_weights_command_reproduces_the_committed_file(tmp_path):
    out = tmp_path / "w.json"
    result = CliRunner().invoke(main, ["export-weights", "--seed", "42", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    committed = json.loads(WEIGHTS.read_text())
    if document["torch_version"] == committed["torch_version"]:
        assert out.read_bytes() == WEIGHTS.read_bytes()
    assert document["tensors"] == committed["tensors"]


@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_the_seed42_init_is_the_same_bytes_on_every_cpu_kind(tmp_path, capability):
    """torch's float32 normal draw rounds differently by instruction set; the init draws in float64, so a CPU
    without AVX (forced here with ATEN_CPU_CAPABILITY) exports the committed file byte for byte."""
    out = tmp_path / "w.json"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    subprocess.run([sys.executable, "-c", "from lenet_parity.harness.cli import main; main()", "export-weights", "--seed", "42", "--out", str(out)],
                   check=True, env=env, capture_output=True)
    assert json.loads(out.read_text())["tensors"] == json.loads(WEIGHTS.read_text())["tensors"]


def test_names_and_shapes_are_checked(tmp_path):
    path = tmp_path / "w.json"
    export_weights(LeNet(), path, seed=None)
    with pytest.raises(UserInputError, match="does not fit the model.*missing.*bn1.weight"):
        load_into_torch(LeNet(LeNetConfig(batchnorm=True)), path)
    export_weights(LeNet(LeNetConfig(in_channels=3, image_size=32)), path, seed=None)
    with pytest.raises(UserInputError, match=r"wrong shapes.*conv1.weight \(6, 3, 5, 5\) != \(6, 1, 5, 5\)"):
        load_into_torch(LeNet(), path)


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 2'), "format_version 2"),
    (lambda text: resealed(text.replace('"shape": [6,1,5,5]', '"shape": [6,1,5]')), "malformed weights file"),
    (lambda text: text.replace('"values": [0,0,0,0,0,0,0,0,0,0]', '"values": [0,0,0,0,0,0,0,0,0,1]'),
     "does not match its content_sha256 seal"),
])
def test_bad_files_exit_2_with_one_line(tmp_path, damage, message):
    bad = tmp_path / "bad.json"
    bad.write_text(damage(WEIGHTS.read_text()))
    result = CliRunner().invoke(main, ["export-weights", "--checkpoint", str(bad), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert message in result.output and "make weights" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


def test_state_dict_checkpoint_exports(tmp_path):
    model = LeNet(LeNetConfig(batchnorm=True))
    torch.save(model.state_dict(), tmp_path / "m.pt")
    result = CliRunner().invoke(main, ["export-weights", "--checkpoint", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 0, result.output
    assert read_weights(tmp_path / "o.json").config == LeNetConfig(batchnorm=True)
