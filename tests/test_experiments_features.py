"""MNISTWithFeats: jitter and label-corruption statistics, the two features on hand-made images, LeNetWithFeats."""

import math

import pytest
import torch

from lenet_parity.harness.compare import assert_match
from lenet_parity.experiments.features import (LeNetWithFeats, MNISTWithFeats, corrupt_labels, features,
                                                        intensity_feature, jitter_pixels, raw_pixels, symmetry_feature,
                                                        symmetry_map)
from lenet_parity.reference.datasets import normalise
from lenet_parity.reference.determinism import torch_generator

MEAN, STD = (0.1307,), (0.3081,)


def images(n=200, seed=0):
    """Normalised float32 images made like load_splits makes them, from seeded uint8 pixels."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return normalise(pixels, MEAN, STD), pixels


def within_sampling_error(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - p) <= sigmas * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.05, 0.10, 0.20])
def test_jitter_flips_a_fraction_p_of_the_pixels(p):
    x, pixels = images()
    y, mask = jitter_pixels(x, p, mean=MEAN, std=STD, generator=torch_generator(7))
    assert within_sampling_error(float(mask.float().mean()), p, mask.numel())
    assert torch.equal(y[~mask], x[~mask])  # untouched pixels keep their exact bits
    off, on = normalise(torch.tensor([[[[0, 255]]]], dtype=torch.uint8), MEAN, STD).flatten().tolist()
    was_on = pixels[mask] >= 128  # raw >= 0.5
    assert torch.all(y[mask][was_on] == off) and torch.all(y[mask][~was_on] == on)


def test_jitter_is_seeded_and_nested():
    x, _ = images(50)
    a, mask_a = jitter_pixels(x, 0.1, mean=MEAN, std=STD, generator=torch_generator(3))
    b, mask_b = jitter_pixels(x, 0.1, mean=MEAN, std=STD, generator=torch_generator(3))
    _, mask_small = jitter_pixels(x, 0.05, mean=MEAN, std=STD, generator=torch_generator(3))
    _, mask_other = jitter_pixels(x, 0.1, mean=MEAN, std=STD, generator=torch_generator(4))
    assert torch.equal(a, b) and torch.equal(mask_a, mask_b)
    assert torch.all(mask_a[mask_small]) and mask_small.sum() < mask_a.sum()  # 5% flips are among the 10% flips
    assert not torch.equal(mask_a, mask_other)


@pytest.mark.parametrize("p", [0.05, 0.15, 0.20])
def test_corrupted_labels_always_change_and_are_recorded(p):
    g = torch.Generator().manual_seed(11)
    y = torch.randint(0, 10, (5000,), generator=g)
    y_new, idx = corrupt_labels(y, p, num_classes=10, generator=torch_generator(5))
    assert len(idx) == round(p * len(y)) and torch.equal(idx, idx.unique())  # sorted, no repeats
    assert torch.all(y_new[idx] != y[idx])
    untouched = torch.ones(len(y), dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(y_new[untouched], y[untouched])
    # the new class is uniform over the other nine: each offset (new - old) mod 10 about 1/9 of the time
    offsets = torch.bincount((y_new[idx] - y[idx]) % 10, minlength=10)
    assert offsets[0] == 0
    for count in offsets[1:].tolist():
        assert within_sampling_error(count / len(idx), 1 / 9, len(idx))


def test_corruption_is_nested_across_rates():
    y = torch.arange(1000) % 10
    small_y, small = corrupt_labels(y, 0.05, num_classes=10, generator=torch_generator(2))
    big_y, big = corrupt_labels(y, 0.10, num_classes=10, generator=torch_generator(2))
    assert set(small.tolist()) <= set(big.tolist())
    assert torch.equal(small_y[small], big_y[small])  # the same new labels


def test_dataset_record_names_every_corrupted_label():
    x, _ = images(300)
    y = torch.arange(300) % 10
    data = MNISTWithFeats(x, y, mean=MEAN, std=STD, corrupt=0.2, jitter=0.1, seed=9)
    record = data.record(torch.arange(1000, 1300))
    corrupt = record["corrupt"]
    assert corrupt["count"] == 60 and len(corrupt["indices"]) == 60
    assert corrupt["original"] == y[corrupt["indices"]].tolist()
    assert corrupt["new"] == data.y[corrupt["indices"]].tolist()
    assert all(o != n for o, n in zip(corrupt["original"], corrupt["new"]))
    assert corrupt["source_indices"] == [1000 + i for i in corrupt["indices"]]
    assert within_sampling_error(record["jitter"]["flipped_fraction"], 0.1, x.numel())
    assert data.tensors[0] is data.x and len(data) == 300
    xi, fi, yi = data[3]
    assert xi.shape == (1, 28, 28) and fi.shape == (2,) and yi == data.y[3]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_rates_outside_zero_one_are_refused(bad):
    x, _ = images(4)
    with pytest.raises(ValueError, match="rate must be in"):
        MNISTWithFeats(x, torch.zeros(4, dtype=torch.int64), mean=MEAN, std=STD, corrupt=bad)
    with pytest.raises(ValueError, match="rate must be in"):
        jitter_pixels(x, bad, mean=MEAN, std=STD, generator=torch_generator(0))


def test_features_on_hand_made_images():
    raw = torch.zeros(4, 1, 28, 28, dtype=torch.float64)  # float64: the hand-computed values hold to its rounding
    raw[0, 0, :, 13:15] = 1.0  # a centred vertical bar: columns 13 and 14 mirror each other
    raw[1, 0, 0, 0] = 1.0  # one pixel in a corner: it and its mirror differ
    raw[2, 0, :, :14] = 1.0  # the left half on: every pixel differs from its mirror
    # raw[3] blank
    assert symmetry_map(raw)[1, 0].nonzero().tolist() == [[0, 0], [0, 27]]
    assert_match(symmetry_feature(raw), [0.0, 2 / 784, 1.0, 0.0], dtype="float64", tensor="output", name="symmetry")
    assert_match(intensity_feature(raw), [56 / 784, 1 / 784, 0.5, 0.0], dtype="float64", tensor="output",
                 name="intensity")
    assert torch.equal(features(raw), torch.stack([symmetry_feature(raw), intensity_feature(raw)], 1))
    # float32 images through normalisation and back, as MNISTWithFeats computes them
    raw32 = raw.float()
    data = MNISTWithFeats((raw32 - MEAN[0]) / STD[0], torch.zeros(4, dtype=torch.int64), mean=MEAN, std=STD)
    assert_match(data.feats, features(raw32), dtype="float32", tensor="output", name="feats")
    with pytest.raises(ValueError, match="N, C, H, W"):
        features(raw[0])


def test_lenet_with_feats_feeds_the_features_to_fc1():
    torch.manual_seed(0)
    model = LeNetWithFeats(mean=MEAN, std=STD)
    assert model.fc1.weight.shape == (120, 256 + 2)
    x, _ = images(5, seed=3)
    seen = {}
    model.fc1.register_forward_hook(lambda m, inputs, out: seen.__setitem__("x", inputs[0]))
    logp = model(x)
    assert logp.shape == (5, 10)
    assert_match(seen["x"][:, 256:], features(raw_pixels(x, MEAN, STD)), dtype="float32", tensor="output",
                 name="fc1 input features")
    target = torch.randint(0, 10, (5,), generator=torch.Generator().manual_seed(1))
    torch.nn.functional.nll_loss(logp, target).backward()
    assert model.fc1.weight.grad[:, 256:].abs().sum() > 0  # the feature columns learn
    assert "pixel_mean" not in model.state_dict()  # constants, not weights: the weights file stays LeNet's
