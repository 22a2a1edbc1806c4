"""Hostile (issue 20, attack 5): the worker stops reading its request pipe, so the checker blocks WRITING a
request larger than the pipe's buffer; today's timeout guards only the replies. How: in forward, on the first
input over 64 KiB (relu1 in float64: 4x6x24x24x8 = 110,592 bytes), the layer shrinks the request pipe (fd
sys.argv[1]) to one page (the checker widens it to 1 MiB), writes, straight into the worker's reply pipe (fd
sys.argv[2], as the worker's ``pack`` and ``send`` do), the replies the worker would send to this call and to the
checker's next request (reading .backward: "a method"), then never returns (sleeps up to 10 min). The checker
reads both answers and sends its next request, backward's dy (as large as x): nobody reads the request pipe, and
that write never ends. Backward is WRONG (sign) anyway.

A fixed harness puts a deadline on every write too: a request that cannot be written in time is the timeout
("... after 5 s ..."), not a hang; the run ends near --timeout and the worker is killed.
"""

import fcntl
import os
import sys
import time

import numpy as np

PIPE_BUFFER = 1 << 16
PAGE = 4096


def _answer_early(x, result) -> None:
    """The replies the worker would send for this call and for the next request (.backward is a method), sent now
    from inside the call, after the request pipe is shrunk below the size of the next request."""
    main = sys.modules.get("__main__")
    try:
        fcntl.fcntl(int(sys.argv[1]), fcntl.F_SETPIPE_SZ, PAGE)
        fd = int(sys.argv[2])
        for reply in (("ok", main.encode({"result": result, "args": [x]})), ("ok", ("method",))):
            main.send(fd, main.pack(reply))
    except (IndexError, ValueError, OSError, TypeError, AttributeError):
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
            _answer_early(x, y)
            time.sleep(600)  # never reads the next request
        return y

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
