"""Hostile (found in review of the pipe format, issue 23): A forged 'ok' reply whose result and args[0] are the SAME out-of-band bytearray (pickle memo: MEMOIZE then GET),
so the checker's two decoded arrays alias one buffer; the reply's args also differ from x, so the checker writes
them into its x. The worker's own reply is swallowed (serve() looks send up in __main__ at each call), so the run goes
on in step. Backward is wrong."""
import os, struct, sys, time
import numpy as np

def s(t):
    b = t.encode()
    return b"\x8c" + bytes([len(b)]) + b

class Layer:
    array_kind = "numpy"
    def __init__(self):
        self.params = {}
        self.grads = {}
    def forward(self, x):
        self.x = x
        y = np.ascontiguousarray(np.maximum(x, 0))
        import pickle
        shape = b"(" + b"".join(b"J" + struct.pack("<i", d) for d in y.shape) + b"t"
        arr1 = b"(" + s("__ndarray__") + s(y.dtype.str) + shape + b"\x97" + b"\x94" + b"t"  # buffer memo 0
        arr2 = b"(" + s("__ndarray__") + s(y.dtype.str) + shape + b"h\x00" + b"t"          # same buffer
        # memo indices: strings are not memoized here (no MEMOIZE after them), so the buffer is memo 0
        body = (b"\x80\x05" + b"(" + s("ok") + b"}" + b"(" + s("result") + arr1 + s("args") + b"]" + arr2 + b"a"
                + b"u" + b"t" + b".")
        raw = memoryview(y).cast("B")
        os.writev(int(sys.argv[2]), [struct.pack("!QI", len(body), 1) + struct.pack("!Q", raw.nbytes), body, raw])
        main = sys.modules["__main__"]
        real_send = main.send
        def swallow_once(fd, views):  # the worker's own reply to this call is dropped: the forged one stands
            main.send = real_send
        main.send = swallow_once
        return y
    def backward(self, dy):
        return -dy * (self.x > 0)
