"""Hostile (found in review of the pipe format, issue 23): Announces a pickle of 2**31 - 64 bytes and really sends it (one 1 MiB block of garbage,
written 2048 times). A fixed checker refuses it by its prefix (over the pickle limit) and stops the layer."""
import os, struct, sys
import numpy as np

class Layer:
    array_kind = "numpy"
    def __init__(self):
        self.params = {}
        self.grads = {}
    def forward(self, x):
        self.x = x
        fd = int(sys.argv[2])
        size = (1 << 31) - 64
        os.write(fd, struct.pack("!QI", size, 0))
        block = b"\x80\x05" + b"X" * ((1 << 20) - 2)
        sent = 0
        while sent < size:
            sent += os.write(fd, memoryview(block)[:min(len(block), size - sent)])
        import time; time.sleep(600)
    def backward(self, dy):
        return -dy * (self.x > 0)
