"""The checker-worker message format (harness/wire.py): arrays beside the pickle, limits against forged prefixes."""

import os
import pickle
import threading

import numpy as np
import pytest

from lenet_parity.harness.isolation import OpaqueValue, _decode, _NoClasses
from lenet_parity.harness.wire import (CHUNK, LENGTH, MAX_BUFFERS, PREFIX, Inbox, Oversized, PipeClosed, pack,
                                       read_message, written)
from lenet_parity.harness.worker_main import encode, send


def _through_a_pipe(value, limit=None):
    """``value`` packed, sent through a real pipe as the worker sends, and read back as the checker reads."""
    read_fd, write_fd = os.pipe()
    try:
        views = pack(value)
        total = sum(memoryview(v).nbytes for v in views)
        assert total < 60_000, "keep test messages within one default pipe buffer"
        send(write_fd, views)
        os.close(write_fd)
        write_fd = None
        return read_message(Inbox(read_fd).fill, limit=limit)
    finally:
        os.close(read_fd)
        if write_fd is not None:
            os.close(write_fd)


ARRAYS = {
    "c-contiguous float64": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
    "fortran float32": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "strided view": np.arange(40, dtype=np.int64).reshape(5, 8)[:, ::3],
    "empty": np.zeros((0, 3)),
    "scalar array": np.array(2.5),
    "bool": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_a_request_carries_every_array_unchanged_and_writable(name):
    array = ARRAYS[name]
    data, buffers = _through_a_pipe(("call", (7, "forward", (array, {"k": array})), []))
    op, (handle, method, (x, kw)), dropped = pickle.loads(data, buffers=buffers)
    assert (op, handle, method, dropped) == ("call", 7, "forward", [])
    for got in (x, kw["k"]):
        assert got.dtype == array.dtype and got.shape == array.shape and np.array_equal(got, array)
        assert got.flags.writeable  # the layer may write into its input, as in one process


def test_large_arrays_travel_beside_the_pickle_not_inside_it():
    array = np.ones((32, 6, 24, 24))
    head, data, *raw = pack(("ok", encode({"result": array, "args": [array]})))
    assert len(data) < 1000 and [v.nbytes for v in raw] == [array.nbytes, array.nbytes]
    count = PREFIX.unpack(head[:PREFIX.size])[1]
    assert count == 2 and len(head) == PREFIX.size + 2 * LENGTH.size


def test_a_reply_decodes_to_writable_arrays_and_refuses_stray_buffers():
    y = np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 6)
    data, buffers = _through_a_pipe(("ok", encode({"result": y, "args": [y[::2]]})))
    reply = _decode(_NoClasses(__import__("io").BytesIO(data), buffers=buffers).load()[1])
    assert np.array_equal(reply["result"], y) and reply["result"].flags.writeable
    assert np.array_equal(reply["args"][0], y[::2])
    stray = _decode([bytearray(b"abc"), pickle.PickleBuffer(bytearray(4))])
    assert all(isinstance(v, OpaqueValue) for v in stray)


def test_a_read_only_array_stays_read_only_as_an_in_band_pickle_kept_it():
    array = np.arange(6.0)
    array.flags.writeable = False
    data, buffers = _through_a_pipe((array,))
    (got,) = pickle.loads(data, buffers=buffers)
    assert np.array_equal(got, array) and not got.flags.writeable


def test_a_forged_prefix_is_refused_before_anything_is_allocated():
    def forged(prefix: bytes):
        stream = memoryview(prefix)

        def fill_from(view):
            nonlocal stream
            if stream.nbytes < view.nbytes:
                raise PipeClosed()
            view[:] = stream[:view.nbytes]
            stream = stream[view.nbytes:]

        return fill_from

    with pytest.raises(Oversized) as too_many:
        read_message(forged(PREFIX.pack(10, MAX_BUFFERS + 1)))
    assert too_many.value.size > MAX_BUFFERS
    with pytest.raises(Oversized) as too_large:
        read_message(forged(PREFIX.pack(10, 1) + LENGTH.pack(1 << 40)), limit=1 << 31)
    assert too_large.value.size == 10 + (1 << 40)
    with pytest.raises(PipeClosed):  # announced, never sent
        read_message(forged(PREFIX.pack(100, 0) + b"short"))


def test_a_partial_write_resumes_where_it_stopped():
    views = [b"abc", memoryview(np.arange(4, dtype=np.uint8)).cast("B"), b"", b"xyz"]
    whole = b"".join(bytes(v) for v in views)
    for n in range(len(whole) + 1):
        assert b"".join(bytes(v) for v in written(views, n)) == whole[n:]


def test_an_argument_is_unchanged_when_its_values_are_nan_included_and_changed_otherwise():
    from lenet_parity.harness.isolation import _unchanged

    x = np.array([[0.0, np.nan, -1.5], [2.0, 3.0, np.inf]])
    assert _unchanged(x.copy(), x)
    flipped = x.copy()
    flipped[0, 0] = -0.0  # other bits, the same value: no change a caller could see
    assert _unchanged(flipped, x)
    for change in (lambda a: a.__setitem__((1, 1), 3.0000000000000004), lambda a: a.__setitem__((0, 1), 0.0)):
        changed = x.copy()
        change(changed)
        assert not _unchanged(changed, x)
    assert not _unchanged(x.astype(np.float32), x) and not _unchanged(x.reshape(3, 2), x)
    assert _unchanged(x[:, ::2].copy(), x[:, ::2]) and not _unchanged(x[:, ::2] * 2, x[:, ::2])


def test_messages_read_in_gulps_come_apart_where_they_were_sent():
    """Small messages share a read; a large buffer goes straight into its own; nothing is lost between them."""
    read_fd, write_fd = os.pipe()
    big = np.arange(3 * CHUNK // 8 + 5, dtype=np.float64)
    values = [("a", 1), ("b", np.arange(3)), ("c", big), ("d", None), ("e", big[:7])]
    try:
        writer = threading.Thread(target=lambda: [send(write_fd, pack(v)) for v in values])
        writer.start()
        inbox = Inbox(read_fd)
        got = [pickle.loads(data, buffers=buffers) for data, buffers in (read_message(inbox.fill) for _ in values)]
        writer.join()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    for (name, value), (got_name, got_value) in zip(values, got):
        assert got_name == name
        assert np.array_equal(got_value, value) if isinstance(value, np.ndarray) else got_value == value


def test_a_read_that_would_block_waits_again_instead_of_blocking():
    """The checker's reply pipe is non-blocking: bytes select saw may be gone when it reads (a worker can take back
    what it wrote); the read then waits again, by the deadline, never blocks."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    waits = []

    def wait():
        waits.append(1)
        if len(waits) == 2:
            os.write(write_fd, b"abcd")

    try:
        view = memoryview(bytearray(4))
        Inbox(read_fd).fill(view, wait)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert bytes(view) == b"abcd" and len(waits) == 2
