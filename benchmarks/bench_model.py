"""Whole-model figures: NumPy training time over torch's (batch 64, the same batches in the same order) and
pure-Python inference time per image.

Training runs what ``lenet-parity train`` runs: reference/training.py's batch_order and random_shift with
the default Recipe, TorchBackend against CustomBackend (numpy, float32). The batches are prepared once per
chunk of steps and handed to every backend in turn (their preparation, shared by all, is timed apart);
the backends take turns chunk by chunk, so a load spike on the shared machine hits all of them.
"""

from __future__ import annotations

import math
import statistics
import time
from operator import mul
from typing import Any, Callable

import numpy as np
import torch

from lenet_parity.custom_lenet.backend import CustomBackend
from lenet_parity.custom_lenet.infer import long_lived_objects_frozen
from lenet_parity.reference.torch_backend import TorchBackend
from lenet_parity.reference.training import Recipe, augment_generator, batch_order, random_shift

from bench_data import Data, Models
from bench_timing import Case, Threads, interleaved, settle

# The yardstick timed between the forwards: sum(map(mul)) over conv2's patch length, what the forward mostly runs
DOT_LENGTH, DOT_CALLS = 150, 2000


def _backends(models: Models, recipe: Recipe, settings: list[Threads]) -> dict[str, tuple[Any, Threads]]:
    out = {}
    for s in settings:
        out[f"torch_{s.key}"] = (TorchBackend(models.torch(), lr=recipe.lr, momentum=recipe.momentum,
                                              weight_decay=recipe.weight_decay), s)
        out[f"numpy_{s.key}"] = (CustomBackend(models.custom("numpy", "float32"), lr=recipe.lr,
                                               momentum=recipe.momentum, weight_decay=recipe.weight_decay), s)
    return out


def bench_training(data: Data, models: Models, settings: list[Threads], *, steps: int | None, chunk: int,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """Train every backend through the same ``steps`` batches of epoch 1 (None: the whole epoch)."""
    recipe = Recipe()  # lenet-parity train's defaults: batch 64, lr 0.01, momentum 0.9, shift 2, seed 42
    order = batch_order(len(data.x_train), recipe.batch_size, recipe.seed, epoch=1)
    epoch_steps = len(order)
    steps = epoch_steps if steps is None else min(steps, epoch_steps)
    warm = _backends(models, recipe, settings)  # throwaway copies: first-call costs (thread pools, allocators)
    for backend, s in warm.values():
        s.apply()
        for idx in order[-3:]:
            backend.train_step(data.x_train[idx], data.y_train[idx])
    backends = _backends(models, recipe, settings)
    names = list(backends)
    walls = {k: [] for k in names}
    cpus = {k: [] for k in names}
    losses = {k: [] for k in names}
    prep_wall = 0.0
    multi_before = False
    augment = augment_generator(recipe.seed, 1)  # the training loop's, epoch 1
    for i, start in enumerate(range(0, steps, chunk)):
        settings[0].apply()
        t0 = time.perf_counter()
        batches = [(random_shift(data.x_train[idx], recipe.shift, augment, data.background), data.y_train[idx])
                   for idx in order[start:min(start + chunk, steps)]]
        prep_wall += time.perf_counter() - t0
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotate who goes first
            backend, s = backends[name]
            if multi_before:  # the last turn's idle workers would still spin through this one's first ~0.15 s
                settle()
            s.apply()
            multi_before = s.torch > 1 or (s.blas or 1) > 1
            w0, c0 = time.perf_counter(), time.process_time()
            for xb, yb in batches:
                losses[name].append(backend.train_step(xb, yb))
            walls[name].append(time.perf_counter() - w0)
            cpus[name].append(time.process_time() - c0)
        if (i + 1) % 10 == 0:
            log(f"  training: {start + len(batches)}/{steps} steps")
    result: dict[str, Any] = {
        "steps_measured": steps, "steps_per_epoch": epoch_steps, "chunk_steps": chunk, "batch_size": recipe.batch_size,
        "extrapolated": steps < epoch_steps, "shared_batch_prep_wall_s_per_step": prep_wall / steps,
        "backends": {}, "ratios": {}}
    for name in names:
        result["backends"][name] = {
            "threads": backends[name][1].label, "wall_s": sum(walls[name]), "cpu_s": sum(cpus[name]),
            "epoch_wall_s": sum(walls[name]) / steps * epoch_steps, "epoch_cpu_s": sum(cpus[name]) / steps * epoch_steps,
            "first_loss": losses[name][0], "last_loss": losses[name][-1]}
    for s in settings:
        t, n = f"torch_{s.key}", f"numpy_{s.key}"
        diffs = np.abs(np.array(losses[n]) - np.array(losses[t]))
        result["ratios"][s.key] = {
            "threads": s.label,
            "numpy_over_torch_wall": sum(walls[n]) / sum(walls[t]),
            "numpy_over_torch_cpu": sum(cpus[n]) / sum(cpus[t]),
            "median_chunk_ratio_wall": statistics.median(a / b for a, b in zip(walls[n], walls[t])),
            "median_chunk_ratio_cpu": statistics.median(a / b for a, b in zip(cpus[n], cpus[t])),
            # float32 trajectories drift apart after ~150 steps (torch 1 vs 2 threads too): compare the start
            "max_loss_diff_first_20": float(diffs[:20].max()),
            "first_step_loss_diff_over_1e-4": int(np.argmax(diffs > 1e-4)) + 1 if (diffs > 1e-4).any() else None}
    result["notes"] = []
    one = result["backends"]["torch_1t"]["wall_s"]
    for s in settings[1:]:
        many = result["backends"][f"torch_{s.key}"]["wall_s"]
        if many > 3 * one:  # seen at load ~8 on 2 cores: 25 ms/step becomes 300-700 ms/step
            result["notes"].append(
                f"torch with {s.torch} threads took {many / one:.0f}x the wall time of 1 thread: on a loaded machine its "
                f"OpenMP threads spin-wait for each other (OMP_WAIT_POLICY=passive avoids most of it)")
    return result


def bench_inference(data: Data, models: Models, setting: Threads, *, n_images: int, repeats: int) -> dict[str, Any]:
    """Forward only, evaluation mode, one batch of test images; the pure-Python time per image is the figure.

    The garbage collector stays on for these cases, with the objects alive before them frozen, as an inference
    run has it (custom_lenet/infer.py); "python_no_gc" shows the collector's share.
    """
    x = data.x_test[:n_images]
    x64 = x.numpy().astype(np.float64)
    py = models.custom("python", "float64").eval()
    npm = models.custom("numpy", "float32").eval()
    tm = models.torch().eval()

    def torch_forward():
        with torch.no_grad():
            return tm(x)

    x32 = x.numpy()
    a, b = [math.sin(i) for i in range(DOT_LENGTH)], tuple(math.cos(i) for i in range(DOT_LENGTH))

    def dots():  # the pure-Python inner loop on its own, as the machine's speed at the time
        for _ in range(DOT_CALLS):
            sum(map(mul, a, b))

    cases = [Case("python", lambda: py.forward(x64), setting.apply, repeats, loops=1, keep_gc=True),
             Case("python_no_gc", lambda: py.forward(x64), setting.apply, repeats, loops=1),
             Case("dot", dots, setting.apply, repeats, loops=1),
             Case("numpy", lambda: npm.forward(x32), setting.apply, 7, keep_gc=True),
             Case("torch", torch_forward, setting.apply, 7, keep_gc=True)]
    with long_lived_objects_frozen():  # as lenet-parity infer runs its forward passes
        timings = interleaved(cases, 0.05)
    dot = timings.pop("dot")
    predicted = {"python": np.asarray(py.forward(x64)).argmax(1), "numpy": np.asarray(npm.forward(x32)).argmax(1),
                 "torch": torch_forward().argmax(1).numpy()}
    return {"images": n_images, "threads": setting.label,
            "per_image": {k: t.to_dict(1.0 / n_images) for k, t in timings.items()},
            "dot_ns_per_multiply_add": dot.to_dict(1e9 / (DOT_CALLS * DOT_LENGTH)),
            "same_class_as_torch": {k: int((v == predicted["torch"]).sum()) for k, v in predicted.items() if k != "torch"}}
