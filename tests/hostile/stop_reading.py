"""Hostile (issue 20, attack 5): the worker stops reading its request pipe, so the checker blocks WRITING a
request larger than the pipe's buffer (64 KiB); today's timeout guards only the replies. How: in forward, on the
first input over 64 KiB (relu1 in float64: 4x6x24x24x8 = 110,592 bytes), the layer writes, straight into the
worker's reply pipe (fd sys.argv[2], framed as the worker's write_frame does), the replies the worker would send to
this call and to the checker's next request (reading .backward: "a method"), then never returns (sleeps up to
10 min). The checker reads both answers and sends its next request, backward's dy (as large as x): nobody reads
the request pipe, and that write never ends. Backward is WRONG (sign) anyway.

A fixed harness puts a deadline on every write too: a request that cannot be written in time is the timeout
("... after 5 s ..."), not a hang; the run ends near --timeout and the worker is killed.
"""

import os
import pickle
import struct
import sys
import time

import numpy as np

PIPE_BUFFER = 1 << 16


def _answer_early(result) -> None:
    """The replies the worker would send for this call and for the next request (.backward is a method), sent now
    from inside the call."""
    main = sys.modules.get("__main__")
    try:
        fd = int(sys.argv[2])
        body = main.encode({"result": result, "changed": {}}) if hasattr(main, "encode") else None
        for reply in (("ok", body), ("ok", ("method",))):
            data = pickle.dumps(reply, protocol=5)
            frame = memoryview(struct.pack("!Q", len(data)) + data)
            while frame:
                frame = frame[os.write(fd, frame):]
    except (IndexError, ValueError, OSError, TypeError):
        pass  # not today's protocol: the sleep below is then a plain hang in forward


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        y = np.maximum(x, 0)
        if getattr(x, "nbytes", 0) > PIPE_BUFFER:
            _answer_early(y)
            time.sleep(600)  # never reads the next request
        return y

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
