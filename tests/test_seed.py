"""--seed and the README's batch sizes: the sweep's inputs are drawn from a seed the run prints, so a layer cannot
learn them, and every layer class runs at LeNet's shapes with batches of 64, 32 and 8.

The layers under test here run as a user's would: through the CLI, in the isolated worker (``--impl``).
"""

from __future__ import annotations

import hashlib
import json
import zlib

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import PHASE0
from lenet_parity.errors import UserInputError
from lenet_parity.harness.check_runner import run_checks
from lenet_parity.harness.cli import main
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue
from lenet_parity.harness.modes.sweep import BATCH_SIZES, sweep_plan
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.vocabulary import REFERENCE_MODELS

RELU_WRONG_AT_64 = '''
import numpy as np


class Layer:
    """Right for every batch but 64, the README's training batch, where it lets the negative inputs through."""

    array_kind = "numpy"

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x
        return x if x.shape[0] == 64 else np.maximum(x, 0)

    def backward(self, dy):
        return dy if dy.shape[0] == 64 else dy * (self.x > 0)
'''

# Returns the stored answer when its input is one it has seen (by the bytes' digest), else a wrong one (the
# input itself): it learned the inputs of one seed and computes nothing.
RELU_THAT_MEMORISED = '''
import hashlib
import pathlib

import numpy as np

TABLE = dict(np.load(pathlib.Path(__file__).with_name("answers.npz")))


def key(a):
    return "k" + hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.k = key(x)
        return TABLE.get("y" + self.k, x)

    def backward(self, dy):
        return TABLE.get("dx" + self.k + key(dy), dy)
'''


def key(a: np.ndarray) -> str:
    return "k" + hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def arrays(case) -> dict[str, np.ndarray]:
    return {"x": case.x, "dy": case.dy, **case.params}


def test_the_same_seed_draws_the_same_inputs_and_another_seed_others(phase0):
    names = ["conv1", "relu1", "fc1", "bn3"]
    plans = {seed: sweep_plan(names, phase0, "lenet", seed) for seed in (0, 0, 12345)}
    again = sweep_plan(names, phase0, "lenet", 12345)
    for first, second, other in zip(plans[12345], again, plans[0]):
        a, b, c = first.case("float64"), second.case("float64"), other.case("float64")
        assert a.seed == b.seed == 12345 and c.seed == 0  # the case carries what drew it
        for name, value in arrays(a).items():
            np.testing.assert_array_equal(value, arrays(b)[name])
            assert not np.array_equal(value, arrays(c)[name]), f"{first.seed_key}: {name} is seed 0's"


def test_seed_0_draws_the_inputs_of_releases_before_it(phase0):
    """Seed 0 keeps the streams of earlier releases (the CRC-32 of the case's key), so old reports still hold."""
    planned = sweep_plan(["relu1"], phase0, "lenet")[0]
    old = np.random.default_rng(zlib.crc32(planned.seed_key.encode()))
    expected = old.standard_normal(planned.config.shape)
    expected[old.random(planned.config.shape) < 0.3] = 0.0  # relu1's own configurations have exact zeros
    np.testing.assert_array_equal(planned.case("float64").x, expected)


@pytest.mark.parametrize("model", ["lenet", "lenet5"])
def test_every_layer_class_runs_at_lenets_shapes_with_the_readme_batch_sizes(phase0, model):
    recorded = {r.name: r.x.shape[1:] for m, r in phase0.records("float64")  # Phase 0's inputs, batch of 4
                if m in REFERENCE_MODELS[model]}
    recorded["loss"] = phase0.capture(model, "float64").log_probs.shape[1:]
    catalogue = layer_catalogue(phase0, model)
    names = list(catalogue)
    plan = sweep_plan(names, phase0, "lenet", model=model)
    first_of_class = {}
    for name in names:
        first_of_class.setdefault(catalogue[name][1].cls, name)
    assert set(BATCH_SIZES) >= {64, 32, 8}
    for cls, name in first_of_class.items():
        batches = [p.config.shape[0] for p in plan
                   if p.origin == name and p.own and p.config.shape[1:] == recorded[name]]
        assert set(batches) >= {64, 32, 8}, f"{cls} ({name}) runs at LeNet's shape with batches {batches} only"


def test_a_relu_wrong_only_for_a_batch_of_64_fails_the_sweep(tmp_path):
    (tmp_path / "relu64.py").write_text(RELU_WRONG_AT_64)
    impl = f"{tmp_path / 'relu64.py'}:Layer"
    assert cli("check", "relu", "--impl", impl, "--mode", "snapshot").exit_code == 0  # Phase 0's batch is 4
    result = cli("check", "relu", "--impl", impl, "--mode", "sweep")
    assert result.exit_code == 1, result.output
    assert "first failure: relu1.output [sweep, float64, x (64, 6, 24, 24) zeros]" in result.output


def test_a_failure_found_with_a_seed_is_reported_and_replayed_with_that_seed(tmp_path, phase0):
    (tmp_path / "relu64.py").write_text(RELU_WRONG_AT_64)
    result = cli("check", "relu", "--impl", f"{tmp_path / 'relu64.py'}:Layer", "--mode", "sweep", "--seed", 7,
                 "--json", tmp_path / "run.json", "--repro", tmp_path / "repro")
    assert result.exit_code == 1, result.output
    assert "sweep mode: seed 7 drew the random inputs" in result.output
    assert json.loads((tmp_path / "run.json").read_text())["meta"]["seed"] == 7
    saved = np.load(tmp_path / "repro" / "relu1.npz")
    by_seed = {seed: next(p for p in sweep_plan(["relu1"], phase0, "lenet", seed) if p.config.shape[0] == 64)
               for seed in (0, 7)}
    np.testing.assert_array_equal(saved["x"], by_seed[7].case("float64").x)
    assert not np.array_equal(saved["x"], by_seed[0].case("float64").x)


def test_a_layer_that_memorised_one_seeds_inputs_fails_with_another(tmp_path):
    out = tmp_path / "export"
    assert cli("cases", "export", "relu", "--out", out, "--seed", 11).exit_code == 0
    table = {}
    for case in json.loads((out / "manifest.json").read_text())["cases"]:
        x, dy = (np.load(out / case["dir"] / f"{name}.npy") for name in ("x", "dy"))
        table["y" + key(x)] = np.maximum(x, 0)
        table["dx" + key(x) + key(dy)] = (dy * (x > 0)).astype(dy.dtype)
    np.savez(tmp_path / "answers.npz", **table)
    (tmp_path / "memorised.py").write_text(RELU_THAT_MEMORISED)
    impl = f"{tmp_path / 'memorised.py'}:Layer"
    learned = cli("check", "relu", "--impl", impl, "--mode", "sweep", "--seed", 11)
    assert learned.exit_code == 0, learned.output  # the seed it learned: every answer stored
    result = cli("check", "relu", "--impl", impl, "--mode", "sweep", "--seed", 12)
    assert result.exit_code == 1 and "FAIL" in result.output and "seed 12" in result.output


def test_cases_export_writes_its_seed_and_cases_check_rebuilds_the_cases_from_it(tmp_path):
    manifests = {}
    for seed in (3, 4):
        assert cli("cases", "export", "relu", "--out", tmp_path / str(seed), "--seed", seed).exit_code == 0
        manifests[seed] = json.loads((tmp_path / str(seed) / "manifest.json").read_text())
        assert manifests[seed]["seed"] == seed
    for a, b in zip(manifests[3]["cases"], manifests[4]["cases"]):
        assert a["id"] == b["id"]
        assert (a["inputs_sha256"] == b["inputs_sha256"]) == (a["mode"] == "snapshot")  # the sweep's differ
    export = tmp_path / "3"
    for case in manifests[3]["cases"]:  # the right answers, for the inputs of seed 3
        x, dy = (np.load(export / case["dir"] / f"{name}.npy") for name in ("x", "dy"))
        (export / "answers" / case["id"]).mkdir(parents=True)
        np.save(export / "answers" / case["id"] / "y.npy", np.maximum(x, 0))
        np.save(export / "answers" / case["id"] / "dx.npy", (dy * (x > 0)).astype(dy.dtype))
    result = cli("cases", "check", export)
    assert result.exit_code == 0 and "seed 3 (the manifest's)" in result.output, result.output
    manifest = manifests[3] | {"seed": 4}  # the checker would rebuild other inputs: refused, not misjudged
    (export / "manifest.json").write_text(json.dumps(manifest))
    result = cli("cases", "check", export)
    assert result.exit_code == 2 and "was exported with other inputs" in result.output


@pytest.mark.parametrize("seed", [-1, 2**32, "3", True, 1.5])
def test_a_seed_outside_0_to_2_to_the_32_is_bad_input(tmp_path, phase0, seed):
    with pytest.raises(UserInputError, match="give an integer from 0 to 4294967295"):
        run_checks("relu", CheckContext(BackendFactory("numpy"), phase0=phase0, seed=seed), modes=["sweep"])
    manifest_dir = tmp_path / "export"
    assert cli("cases", "export", "relu", "--out", manifest_dir).exit_code == 0
    manifest = json.loads((manifest_dir / "manifest.json").read_text()) | {"seed": seed}
    (manifest_dir / "manifest.json").write_text(json.dumps(manifest))
    result = cli("cases", "check", manifest_dir)
    assert result.exit_code == 2 and "damaged" in result.output
    if isinstance(seed, int) and not isinstance(seed, bool):
        result = cli("check", "relu", "--mode", "sweep", "--seed", seed)
        assert result.exit_code == 2 and "--seed" in result.output
