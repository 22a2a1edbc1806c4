"""Where independent tasks run: a local pool of fresh processes, or Ray (a local Ray, or a cluster).

One interface for ``grade`` (a task per submission) and the experiments (a task per training run):
``Executor(...).run(function, items)`` yields ``(item, result, error)`` as tasks finish, in any order; a task
that raises gives its exception as ``error`` and never stops the others. The function must be importable by
name (a module-level function of an installed package): both executors send it by reference.

Ray is optional (``pip install 'lenet-parity[ray]'``). ``--executor ray`` with no address starts a local Ray of
``workers`` CPUs and shuts it down afterwards; with an address (or ``RAY_ADDRESS``) it joins that cluster, whose
nodes need lenet-parity installed (and, for training and the train mode, the data under the same data root).
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Iterator, TypeVar

from lenet_parity.errors import UserInputError
from lenet_parity.vocabulary import EXECUTORS, LOCAL, RAY

Item = TypeVar("Item")
Outcome = tuple[Any, Any, "BaseException | None"]  # (item, result, error)

RAY_OBJECT_STORE = 256 << 20  # bytes: a local Ray's shared memory; tasks pass a few MB at most


@dataclass(frozen=True)
class Executor:
    kind: str = LOCAL  # local: a process pool here; ray: Ray tasks
    workers: int = 2  # local: processes at once (0: one after another in this process); ray: a local Ray's CPUs
    ray_address: str | None = None  # a running cluster ("ray://host:10001", "auto"); default $RAY_ADDRESS

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise UserInputError(f"--executor {self.kind!r}: choose one of {', '.join(EXECUTORS)}")
        if self.workers < 0:
            raise UserInputError(f"--workers {self.workers}: give 0 or more")
        if self.ray_address and self.kind != RAY:
            raise UserInputError("--ray-address needs --executor ray")

    def describe(self) -> str:
        if self.kind == LOCAL:
            return f"local, {self.workers or 'no'} worker process{'es' if self.workers != 1 else ''}"
        address = self.ray_address or os.environ.get("RAY_ADDRESS")
        return f"ray, {'cluster ' + address if address else f'a local Ray of {max(self.workers, 1)} CPUs'}"

    def run(self, function: Callable[[Item], Any], items: Iterable[Item]) -> Iterator[Outcome]:
        items = list(items)
        if not items:
            return iter(())
        if self.kind == RAY:
            return _run_ray(function, items, self)
        return _run_local(function, items, self.workers)


def _run_local(function, items, workers: int, *, retry: bool = True) -> Iterator[Outcome]:
    if workers == 0:
        for item in items:
            yield _call(function, item)
        return
    broken = []  # a process of the pool died (the OOM killer, a crash): every unfinished task fails with it
    # spawn: a clean interpreter per worker, no forked torch thread pools or locks
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(function, item): item for item in items}
        try:
            for future in as_completed(futures):
                error = future.exception()
                if isinstance(error, BrokenProcessPool) and retry:
                    broken.append(futures[future])
                    continue
                yield futures[future], None if error else future.result(), error
        except BaseException:  # interrupted: drop what has not started, do not wait for it
            for future in futures:
                future.cancel()
            raise
    for item in broken:  # again, each in a pool of its own: only the task that kills its process fails
        yield from _run_local(function, [item], 1, retry=False)


def _call(function, item) -> Outcome:
    try:
        return item, function(item), None
    except Exception as error:  # noqa: BLE001 - one task's failure is its own
        return item, None, error


def _start_ray(executor: Executor):
    """Ray, started or joined; whether we started it (then we shut it down)."""
    try:
        import ray
    except ImportError:
        raise UserInputError("--executor ray needs Ray: pip install 'lenet-parity[ray]'") from None
    if ray.is_initialized():  # a notebook or a test that started Ray itself: use it, leave it running
        return ray, False
    address = executor.ray_address or os.environ.get("RAY_ADDRESS")
    if address and not _answers(address):  # ray.init would retry for minutes, then exit
        raise UserInputError(f"--ray-address {address}: nothing answers there (is the cluster up? `ray status` on "
                             f"its head node tells); or run without --ray-address for a local Ray")
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        else:
            ray.init(num_cpus=max(executor.workers, 1), include_dashboard=False, log_to_driver=False,
                     logging_level="WARNING", object_store_memory=RAY_OBJECT_STORE)
    except (ConnectionError, RuntimeError, ValueError, SystemExit) as exc:
        where = f"--ray-address {address}" if address else "a local Ray"
        raise UserInputError(f"{where}: Ray did not start ({exc}); check the address (a cluster with token "
                             f"authentication needs RAY_AUTH_MODE=token, and RAY_AUTH_TOKEN or ~/.ray/auth_token "
                             f"holding its token), or run without it") from None
    return ray, True


def _answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at a ``host:port`` or ``ray://host:port`` address ("auto": Ray looks itself)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return True  # "auto", "local" or a form Ray knows better: let it say
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
        return True
    except OSError:
        return False


def _run_ray(function, items, executor: Executor) -> Iterator[Outcome]:
    ray, started = _start_ray(executor)
    task = ray.remote(num_cpus=1, max_retries=0)(function)  # a task that failed failed: never run twice
    pending = {task.remote(item): item for item in items}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            item = pending.pop(ref)
            try:
                yield item, ray.get(ref), None
            except ray.exceptions.RayTaskError as error:  # the task raised: its own exception, as raised there
                yield item, None, getattr(error, "cause", None) or error.as_instanceof_cause()
            except ray.exceptions.RayError as error:  # the worker died, the node was lost, ...
                yield item, None, RuntimeError(f"Ray lost the task: {error}")
    finally:
        try:
            for ref in pending:  # interrupted: stop what is queued; a running task gets KeyboardInterrupt, and
                ray.cancel(ref)  # its `with` blocks close what it started (its layer processes)
        finally:
            if started:
                ray.shutdown()
