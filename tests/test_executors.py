"""Executors: a task's failure is its own, results are the same in this process, in a local pool and on Ray."""

from __future__ import annotations

import os
import sys

import pytest

from lenet_parity.errors import UserInputError
from lenet_parity.executors import Executor


def square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    return n * n


def outcomes(executor: Executor, items) -> dict:
    return {item: (result, None if error is None else (type(error), str(error)))
            for item, result, error in executor.run(square_or_fail, items)}


EXPECTED = {1: (1, None), 2: (4, None), 3: (None, (ValueError, "three is refused")), 4: (16, None)}


@pytest.mark.parametrize("workers", [0, 2])
def test_local_runs_every_task_and_keeps_each_failure_its_own(workers):
    assert outcomes(Executor(workers=workers), [1, 2, 3, 4]) == EXPECTED


def exit_on_two(n: int) -> int:
    if n == 2:
        os._exit(9)  # the pool's process dies: every task it held fails with BrokenProcessPool
    return n


def test_a_task_that_kills_its_pool_process_fails_alone():
    found = {item: (result, type(error).__name__ if error else None)
             for item, result, error in Executor(workers=2).run(exit_on_two, [1, 2, 3, 4])}
    assert found == {1: (1, None), 2: (None, "BrokenProcessPool"), 3: (3, None), 4: (4, None)}


def test_no_tasks_start_nothing():
    assert list(Executor(kind="ray").run(square_or_fail, [])) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "dask"}, "--executor 'dask': choose one of local, ray"),
    ({"workers": -1}, "--workers -1"),
    ({"ray_address": "ray://head:10001"}, "--ray-address needs --executor ray"),
])
def test_bad_settings_are_bad_input(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        Executor(**kwargs)


def test_ray_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UserInputError, match=r"pip install 'lenet-parity\[ray\]'"):
        list(Executor(kind="ray").run(square_or_fail, [1]))


def test_an_unreachable_cluster_is_bad_input():
    pytest.importorskip("ray")
    with pytest.raises(UserInputError, match="--ray-address 127.0.0.1:9: nothing answers there"):
        list(Executor(kind="ray", ray_address="127.0.0.1:9").run(square_or_fail, [1]))


@pytest.mark.slow
def test_ray_gives_what_local_gives():
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # a test module is not importable in Ray's workers
    assert not ray.is_initialized()
    assert outcomes(Executor(kind="ray", workers=2), [1, 2, 3, 4]) == EXPECTED
    assert not ray.is_initialized()  # the Ray it started is shut down
