"""The 1998 LeNet-5 as a second reference model: its plan, weights and Phase 0 records, `check --model lenet5`, the
new layer types found where a model has them, trace, train and follow; and the variants model's sigmoid and softmax."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lenet_parity.harness.cli import main
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue, reference_model_for
from lenet_parity.harness.trace import trace
from lenet_parity.reference.config import LENET5_CONFIG
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import read_weights
from lenet_parity.vocabulary import DEFAULT_LENET5_WEIGHTS, LENET, LENET5, LENET_VARIANTS

from conftest import PHASE0

LENET5_LAYERS = ["conv1", "tanh1", "pool1", "conv2", "tanh2", "pool2", "flatten", "fc1", "tanh3", "fc2", "tanh4", "fc3",
                 "loss"]


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_lenet5_is_the_1998_network_layer_by_layer():
    catalogue = layer_catalogue(None, LENET5)
    assert list(catalogue) == LENET5_LAYERS
    kinds = {name: spec.kind for name, (_, spec) in catalogue.items()}
    assert kinds["tanh1"] == "tanh" and kinds["pool1"] == "avgpool" and kinds["loss"] == "crossentropy"
    assert catalogue["conv1"][1].kwargs == dict(in_channels=1, out_channels=6, kernel_size=5, padding=2)
    assert catalogue["fc1"][1].kwargs == dict(in_features=400, out_features=120)  # 16 x 5 x 5: 28 -> 28 -> 14 -> 10 -> 5


def test_the_variants_add_sigmoid_and_softmax_in_forward_order():
    order = list(layer_catalogue(None, LENET))
    assert order.index("sigmoid3") < order.index("relu3") < order.index("fc2")  # relu3 kept where LeNet has it
    assert order[-3:] == ["softmax", "logsoftmax", "loss"]
    assert layer_catalogue(None, LENET)["softmax"][0] == LENET_VARIANTS


@pytest.mark.parametrize("kind, model", [("tanh", LENET5), ("avgpool", LENET5), ("crossentropy", LENET5),
                                         ("sigmoid", LENET), ("softmax", LENET), ("conv", LENET), ("all", LENET)])
def test_a_type_is_checked_where_a_reference_model_has_it(kind, model):
    assert reference_model_for(kind, None) == model
    assert reference_model_for(kind, LENET5) == LENET5  # --model always wins


def test_the_shipped_weights_and_phase0_hold_lenet5_in_both_dtypes():
    assert read_weights(DEFAULT_LENET5_WEIGHTS).config == LENET5_CONFIG
    phase0 = load_phase0(PHASE0)
    for dtype in ("float32", "float64"):
        capture = phase0.capture(LENET5, dtype)
        assert [r.name for r in capture.layers] == LENET5_LAYERS[:-1]
        assert capture.log_probs.shape == (4, 10)  # LeNet-5's output: logits
        assert capture.layer("pool1").x.shape == (4, 6, 28, 28)
        assert np.isfinite(capture.loss) and capture.dlogp.shape == (4, 10)
    variants = {r.name for r in phase0.capture(LENET_VARIANTS, "float64").layers}
    assert {"sigmoid3", "sigmoid4", "softmax"} <= variants


def test_check_all_model_lenet5_passes_with_our_numpy_layers(tmp_path):
    result = invoke("check", "all", "--model", "lenet5", "--backend", "numpy", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["meta"]["model"] == LENET5
    checked = {r["layer"] for r in document["results"]}
    assert set(LENET5_LAYERS) <= checked
    assert {r["mode"] for r in document["results"]} == {"snapshot", "state", "hybrid", "sweep", "train"}


TANH_GRAD_FROM_INPUT = '''
import numpy as np
from lenet_parity.custom_layers.numpy import Tanh


class TanhGradFromInput(Tanh):
    """dy * (1 - x^2): the derivative written with the input instead of the output."""

    def forward(self, x):
        self.x = np.asarray(x)
        return super().forward(x)

    def backward(self, dy):
        super().backward(dy)
        return np.asarray(dy) * (1 - self.x ** 2)
'''


def test_check_tanh_needs_no_model_flag_and_catches_a_gradient_from_x(tmp_path):
    result = invoke("check", "tanh", "--backend", "python", "--mode", "snapshot")
    assert result.exit_code == 0, result.output
    assert "4 layers" in result.output  # tanh1..tanh4 of LeNet-5
    (tmp_path / "mine.py").write_text(TANH_GRAD_FROM_INPUT)
    result = invoke("check", "tanh", "--impl", f"{tmp_path / 'mine.py'}:TanhGradFromInput", "--mode", "snapshot")
    assert result.exit_code == 1, result.output
    assert "FAIL tanh" in result.output and "grad_input" in result.output


def test_a_type_the_chosen_model_lacks_is_bad_input_naming_the_model_that_has_it():
    result = invoke("check", "tanh", "--model", "lenet", "--backend", "numpy", "--mode", "snapshot")
    assert result.exit_code == 2, result.output
    assert "LeNet has no tanh layer" in result.output and "--model lenet5" in result.output


def test_model_bad_input_is_one_line_and_exit_2(tmp_path):
    result = invoke("check", "conv", "--model", "lenet1998")
    assert result.exit_code == 2
    result = invoke("train", "--model", "lenet5", "--weights", str(PHASE0.parent.parent / "weights" / "lenet_seed42.json"),
                    "--out", tmp_path / "run", "--epochs", "1", "--limit", "64")
    assert result.exit_code == 2 and "not weights of the 1998 LeNet-5" in result.output


def test_trace_model_lenet5_runs_every_layer_and_the_cross_entropy():
    context = CheckContext(BackendFactory("python"), phase0_path=PHASE0, dtype="float64", model=LENET5)
    run = trace(context)
    assert run.passed, run.failure_message()
    assert {r.layer for r in run.results} >= set(LENET5_LAYERS)


def test_train_and_follow_lenet5_with_the_numpy_backend(tmp_path):
    result = invoke("train", "--model", "lenet5", "--backend", "numpy", "--epochs", "1", "--limit", "256",
                    "--out", tmp_path / "train")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "train" / "summary.json").read_text())
    assert 0.0 <= summary["test_acc"] <= 1.0
    result = invoke("follow", "--model", "lenet5", "--backend", "numpy", "--limit", "256", "--eval-limit", "256",
                    "--out", tmp_path / "follow")
    assert result.exit_code == 0, result.output
    assert "largest loss difference" in result.output
