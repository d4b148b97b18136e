"""Folder jobs in worker processes (``sepviz separate DIR --jobs N``, ``sepviz evaluate --jobs N``).

Each worker is a fresh (spawned) process with one torch and one BLAS thread: N single-threaded
workers use N cores without the OpenMP barriers that make one many-threaded process crawl on a
busy machine.  A worker rebuilds the parent's model once, from a :class:`ModelSpec` (the
checkpoint plus this run's mask temperature and tracking), then runs tasks on it.  A task is a
picklable ``task(model, item) -> result``; each item's result depends on the item alone (seeded
clusterers), so results are the same as one process running them in turn, and they come back in
the input order whatever order the workers finish in.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import SepvizError
from .threads import limit_threads

# the worker's model, loaded once by its initializer (one per process, never shared)
_worker_model = None


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to rebuild the parent's model: the checkpoint and this run's overrides."""

    checkpoint: str
    mask_temperature: dict = field(default_factory=dict)
    attractor_tracking: dict = field(default_factory=dict)

    @classmethod
    def of(cls, model, checkpoint) -> "ModelSpec":
        """The spec of ``model`` as loaded from ``checkpoint`` (with any run-time overrides applied)."""
        return cls(str(checkpoint), dict(model.config.mask_temperature or {}),
                   dict(model.config.attractor_tracking or {}))

    def load(self):
        from .checkpoint import load_checkpoint

        model = load_checkpoint(self.checkpoint)
        model.config.mask_temperature = dict(self.mask_temperature)
        model.config.attractor_tracking = dict(self.attractor_tracking)
        return model


def _start_worker(spec: ModelSpec) -> None:
    global _worker_model
    limit_threads(1)
    _worker_model = spec.load()


def _run_in_worker(task: Callable[[Any, Any], Any], item: Any) -> Any:
    return task(_worker_model, item)


def run_tasks(task: Callable[[Any, Any], Any], items: Sequence[Any], *, model, spec: ModelSpec | None = None,
              jobs: int = 1, on_done: Callable[[int, Any], None] | None = None) -> list:
    """``[task(model, item) for item in items]``, in ``jobs`` worker processes when ``jobs > 1``.

    ``on_done(index, result)`` is called in this process as each item finishes (in input order
    with one job, in finishing order with several), e.g. for progress.  ``model`` is used as is
    with one job; workers load theirs from ``spec`` (needed for ``jobs > 1``).  Exceptions raised
    by a task reach the caller as they would with one job; a worker that dies (killed, out of
    memory) ends the run with a :class:`SepvizError`.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs > 1 and spec is None:
        raise ValueError("run_tasks: more than one job needs the model's ModelSpec (workers load their own)")
    results: list = [None] * len(items)
    if jobs == 1 or len(items) <= 1:
        for i, item in enumerate(items):
            results[i] = task(model, item)
            if on_done is not None:
                on_done(i, results[i])
        return results
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(spec,))
    try:
        pending = {pool.submit(_run_in_worker, task, item): i for i, item in enumerate(items)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                results[i] = fut.result()
                if on_done is not None:
                    on_done(i, results[i])
    except BrokenProcessPool:
        raise SepvizError(f"a worker process died (killed, or out of memory?); try fewer --jobs than {jobs}") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results
