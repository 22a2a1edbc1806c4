"""Phase 0: complete, reproducible (byte for byte on one machine, within round-off across CPUs), consistent with
itself, and refused when damaged."""

import json
import subprocess
import sys
from copy import deepcopy

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import PHASE0, ROOT, WEIGHTS, resealed
from lenet_parity.harness.cli import main
from lenet_parity.reference.phase0_compare import reproduction_distances
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.errors import UserInputError


def _capture(out, threads: int, mnist_root) -> None:
    """``lenet-parity phase0`` in a fresh process with ``threads`` torch threads (the capture must not depend on it)."""
    code = ("import torch, sys; torch.set_num_threads(int(sys.argv.pop(1))); "
            "from lenet_parity.harness.cli import main; main()")
    subprocess.run([sys.executable, "-c", code, str(threads), "phase0", "--weights", str(WEIGHTS),
                    "--data-root", str(mnist_root), "--out", str(out)], check=True, cwd=ROOT)


def test_make_phase0_twice_is_byte_identical_and_reproduces_the_committed_file(tmp_path, mnist_root):
    """Byte for byte on one machine, whatever the thread count; against the committed file (captured on another
    CPU, perhaps), every tensor within the reproduction bound of its dtype. No assumption of identical bytes
    across machines: torch's kernels differ by instruction set."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _capture(a, 2, mnist_root)
    _capture(b, 1, mnist_root)
    assert a.read_bytes() == b.read_bytes()
    distances = reproduction_distances(load_phase0(a), load_phase0(PHASE0))
    assert distances and all(d.within for d in distances), [(d.where, d.ratio) for d in distances[:5]]


def _nudged(phase0, rng, ulps: dict[str, int]):
    """A copy of Phase 0 with every float moved by up to ``ulps[dtype]`` units in the last place: what another
    CPU's summation order does to a capture."""
    copy = deepcopy(phase0)
    for (_, dtype), capture in copy.captures.items():
        for record in capture.layers:
            for holder, key in [(record, n) for n in ("x", "y", "dy", "dx")] + [(record.grads, k) for k in record.grads]:
                value = holder[key] if isinstance(holder, dict) else getattr(record, key)
                steps = rng.integers(-ulps[dtype], ulps[dtype] + 1, size=value.shape)
                moved = value + steps * np.spacing(np.abs(value).max()).astype(value.dtype)
                if isinstance(holder, dict):
                    holder[key] = moved
                else:
                    setattr(record, key, moved)
    return copy


def test_the_reproduction_bound_passes_round_off_and_fails_a_real_change():
    committed = load_phase0(PHASE0)
    rng = np.random.default_rng(0)
    nudged = _nudged(committed, rng, {"float32": 64, "float64": 64})  # 64 ulps of the scale: 7.6e-6, 1.4e-14
    assert all(d.within for d in reproduction_distances(nudged, committed))
    assert max(d.ratio for d in reproduction_distances(nudged, committed)) > 0  # the nudge moved something
    for dtype in ("float32", "float64"):
        changed = deepcopy(committed)
        weight_grad = changed.capture("lenet", dtype).layer("conv2").grads["weight"]
        weight_grad.flat[17] += 1e-3 * np.abs(weight_grad).max()  # one value off by 1e-3 of its scale
        worst = reproduction_distances(changed, committed)[0]
        assert not worst.within and worst.where == f"lenet/{dtype} conv2.grads.weight", worst
    changed = deepcopy(committed)
    changed.capture("lenet", "float64").layers[0].x = changed.capture("lenet", "float64").layers[0].x[:, :, :-1]
    assert not reproduction_distances(changed, committed)[0].within  # a shape change is never round-off


def test_every_layer_is_recorded_in_both_dtypes():
    phase0 = load_phase0(PHASE0)
    assert phase0.num_threads == 1 and phase0.meta["batch"]["indices"] == [0, 1, 2, 3]
    for dtype in ("float32", "float64"):
        cap = phase0.capture("lenet", dtype)
        assert cap.targets == [7, 2, 1, 0]
        assert [r.name for r in cap.layers] == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
                                                "fc1", "relu3", "fc2", "relu4", "fc3", "logsoftmax"]
        for prev, record in zip(cap.layers, cap.layers[1:]):  # the chain is consistent
            np.testing.assert_array_equal(prev.y, record.x)
            np.testing.assert_array_equal(prev.dy, record.dx)
        for record in cap.layers:
            assert record.x.dtype == np.dtype(dtype) and record.dx.shape == record.x.shape
            assert set(record.grads) == {k for k in record.params if k in ("weight", "bias")}
        np.testing.assert_array_equal(cap.layers[-1].y, cap.log_probs)
        # the NLL loss is the mean of -logp at the targets, and its gradient is -1/N there
        assert cap.loss == pytest.approx(-np.mean(cap.log_probs[np.arange(4), cap.targets]), rel=1e-6)
        expected_dlogp = np.zeros((4, 10))
        expected_dlogp[np.arange(4), cap.targets] = -0.25
        np.testing.assert_array_equal(cap.dlogp, expected_dlogp)
    variants = [r.name for r in phase0.capture("lenet_variants", "float64").layers]
    assert variants == ["bn1", "res1", "bn2", "bn3", "sigmoid3", "drop1", "bn4", "sigmoid4", "drop2", "softmax"]


def test_float64_capture_uses_the_same_weights():
    phase0 = load_phase0(PHASE0)
    w32 = phase0.capture("lenet", "float32").layer("conv1").params["weight"]
    w64 = phase0.capture("lenet", "float64").layer("conv1").params["weight"]
    np.testing.assert_array_equal(w32.astype(np.float64), w64)
    loss32, loss64 = phase0.capture("lenet", "float32").loss, phase0.capture("lenet", "float64").loss
    assert loss32 == pytest.approx(loss64, rel=1e-5) and loss32 != loss64


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[:1000], "not valid JSON"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 0', 1), "format_version 0"),
    (lambda text: resealed(text.replace('"num_threads"', '"threads"', 1)), "malformed Phase 0 file"),
    (lambda text: text.replace('"targets": [7,2,1,0]', '"targets": [7,2,1,1]', 1), "does not match its content_sha256"),
    (lambda text: text.replace('"content_sha256"', '"sha"', 1), "has no content_sha256 seal"),
])
def test_damaged_phase0_is_refused_with_the_fix(tmp_path, damage, message):
    bad = tmp_path / "_reference.json"
    bad.write_text(damage(PHASE0.read_text()))
    with pytest.raises(UserInputError, match=f"{message}.*run: make phase0"):
        load_phase0(bad)


def test_phase0_command_without_weights_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["phase0", "--weights", str(tmp_path / "none.json"), "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "make weights" in result.output
    assert not (tmp_path / "p.json").exists()


def test_phase0_command_with_missing_or_corrupted_data_exits_2(tmp_path, mnist_root):
    out = tmp_path / "p.json"
    result = CliRunner().invoke(main, ["phase0", "--weights", str(WEIGHTS), "--data-root", str(tmp_path / "none"), "--out", str(out)])
    assert result.exit_code == 2 and "make data" in result.output
    raw = tmp_path / "corrupt" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").iterdir():
        (raw / f.name).write_bytes(f.read_bytes()[:1000] if f.name.startswith("t10k-images") else f.read_bytes())
    result = CliRunner().invoke(main, ["phase0", "--weights", str(WEIGHTS), "--data-root", str(tmp_path / "corrupt"), "--out", str(out)])
    assert result.exit_code == 2 and "truncated IDX file" in result.output and "t10k-images" in result.output
    assert not out.exists()


def test_the_seal_covers_content_not_formatting(tmp_path):
    again = tmp_path / "_reference.json"
    again.write_text(json.dumps(json.loads(PHASE0.read_text()), indent=4))  # re-indented, same content
    assert load_phase0(again).captures.keys() == load_phase0(PHASE0).captures.keys()
