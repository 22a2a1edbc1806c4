"""The golden-file codec: bit-exact float32/float64 round trips, and clear errors for bad files."""

import json
import struct

import numpy as np
import pytest

from lenet_parity.errors import UserInputError
from lenet_parity.golden import decode_tensor, dumps, encode_tensor, read_document, write_document


@pytest.mark.parametrize("encoding", ["values", "base64"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact(dtype, encoding):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500),
                        [0.0, -0.0, 1e-45 if dtype == "float32" else 5e-324, 3.4e38]]).astype(dtype)
    record = json.loads(dumps({"t": encode_tensor(x.tolist(), [len(x)], dtype, encoding=encoding)}))["t"]
    flat, shape, got_dtype = decode_tensor(record)
    back = np.array(flat, dtype=dtype)
    assert shape == [len(x)] and got_dtype == dtype
    assert back.tobytes() == x.tobytes()  # bit-exact, signed zero included


def test_float32_written_short():
    text = dumps(encode_tensor([np.float32(0.1).item()], [1], "float32"))
    assert '"values": [0.1]' in text
    assert struct.pack("<f", 0.1) == struct.pack("<f", np.float32(0.1))


def test_non_finite_values_refused():
    with pytest.raises(ValueError, match="non-finite"):
        encode_tensor([float("nan")], [1], "float32")


def test_shape_mismatch_refused():
    with pytest.raises(ValueError, match="4 values for shape"):
        encode_tensor([1.0] * 4, [5], "float64")
    record = {"shape": [3], "dtype": "float64", "values": [1.0, 2.0]}
    with pytest.raises(ValueError, match="2 values for shape"):
        decode_tensor(record)


def _doc(**overrides):
    return {"format_version": 1, "kind": "lenet-parity/test", **overrides}


def test_read_document_errors_name_the_file_and_the_fix(tmp_path):
    path = tmp_path / "golden.json"
    read = lambda: read_document(path, kind="lenet-parity/test", version=1, regenerate="make golden")  # noqa: E731
    with pytest.raises(UserInputError, match=r"golden.json: file not found \(run: make golden\)"):
        read()
    write_document(path, _doc())
    path.write_text(path.read_text()[:-10])  # truncated
    with pytest.raises(UserInputError, match="not valid JSON.*run: make golden"):
        read()
    write_document(path, _doc(format_version=99))
    with pytest.raises(UserInputError, match="format_version 99, this lenet-parity reads 1; run: make golden"):
        read()
    write_document(path, _doc(kind="something/else"))
    with pytest.raises(UserInputError, match="not a lenet-parity/test file"):
        read()
    write_document(path, _doc())
    assert read()["kind"] == "lenet-parity/test"


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "golden.json"
    write_document(path, _doc(n=1))

    class Boom(Exception):
        pass

    def explode(*args, **kwargs):
        raise Boom

    monkeypatch.setattr("lenet_parity.golden.dumps", explode)
    with pytest.raises(Boom):
        write_document(path, _doc(n=2))
    assert json.loads(path.read_text())["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["golden.json"]  # no temp file left behind


def test_a_pinned_file_is_read_and_sealed_once_per_process_while_it_is_unchanged(tmp_path, monkeypatch):
    """Grading pins the golden files once per submission: an unchanged file is reused as read and verified; any
    write (even one that puts the modification time back) is seen, and a forged document is refused."""
    import os

    from lenet_parity import golden
    from lenet_parity.golden_pins import pinned

    path = tmp_path / "golden.json"
    write_document(path, _doc(values=[1, 2, 3]))
    sealed, parsed = [], []
    real_seal, real_parse = golden.content_sha256, golden.parse
    monkeypatch.setattr(golden, "content_sha256", lambda d: sealed.append(1) or real_seal(d))
    monkeypatch.setattr(golden, "parse", lambda *a, **k: parsed.append(1) or real_parse(*a, **k))
    read = lambda: read_document(path, kind="lenet-parity/test", version=1, regenerate="make golden")  # noqa: E731
    for _ in range(3):
        with pinned(path):
            assert read()["values"] == [1, 2, 3]
    assert (len(parsed), len(sealed)) == (1, 1)

    before = os.stat(path)
    text = path.read_text().replace("[1,2,3]", "[7,2,3]")
    assert text != path.read_text()
    path.write_text(text)  # the same size, the seal left as it was
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the modification time put back
    with pinned(path), pytest.raises(UserInputError, match="does not match its content_sha256 seal"):
        read()
    assert len(parsed) == 2


def test_load_phase0_hands_out_copies_that_share_no_array():
    from lenet_parity.reference.phase0_format import load_phase0
    from lenet_parity.vocabulary import DEFAULT_PHASE0

    first = load_phase0(DEFAULT_PHASE0)
    record = first.captures[("lenet", "float32")].layers[0]
    original = record.x.copy()
    record.x[...] = 123.0  # a check that wrote into what it was given
    first.captures[("lenet", "float32")].layers.clear()
    second = load_phase0(DEFAULT_PHASE0)
    assert np.array_equal(second.captures[("lenet", "float32")].layers[0].x, original)
