"""Hostile (found in review of the pipe format, issue 23): Opens a READ end of its own reply pipe (/proc/self/fd/<argv[2]>: allowed inside the sandbox), announces a 1 MiB
reply, writes one byte, then prints for a random 0-50 us (the checker's output-drain thread wakes and competes for
the checker's GIL, widening the gap between its select() and its read) and takes the byte back itself. When the
checker's select() had seen the byte, its BLOCKING os.readv() on the reply pipe now waits with no deadline; the
worker never writes again and sleeps with its write end open: the checker hangs until the worker dies."""
import os, random, struct, sys, time
import numpy as np

class Layer:
    array_kind = "numpy"
    def __init__(self):
        self.params = {}
        self.grads = {}
    def forward(self, x):
        self.x = x
        wfd = int(sys.argv[2])
        rfd = os.open(f"/proc/self/fd/{wfd}", os.O_RDONLY | os.O_NONBLOCK)
        os.write(wfd, struct.pack("!QI", 1 << 20, 0))  # a valid prefix: the checker now waits for 1 MiB of pickle
        time.sleep(0.5)  # the checker has read it and waits in select()
        os.write(wfd, b"\x00")
        until = time.perf_counter() + random.random() * 50e-6
        while time.perf_counter() < until:
            os.write(1, b"steal\n")
        try:
            os.read(rfd, 100)  # taken back: if the checker's select() had already seen it, its read now blocks
            os.write(1, b"STOLEN\n")
        except BlockingIOError:
            os.write(1, b"the checker got the byte\n")
        while True:
            time.sleep(3600)
    def backward(self, dy):
        return -dy * (self.x > 0)
