"""DirectProbe runs side by side: the worker pool, its size, and the content key of a run.

The engine (``harness/directprobe/engine.py``) is sequential CPU work, so the runs a claim hands over at
once (``Harness.directprobe_many``) go to worker processes, one per CPU this process may use
(``$CLAIMS_GEOMETRY_WORKERS`` sets the number; the CPUs are shared among pytest-xdist's workers
and torchrun's ranks on a machine). Small batches of runs stay in this process, where a run
takes less than starting a worker.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import engine as directprobe

GEOMETRY_WORKERS_ENV = "CLAIMS_GEOMETRY_WORKERS"  # processes for DirectProbe (default: the CPUs)
POOL_MIN_POINTS = 2_000  # fewer points in all than this: DirectProbe runs in this process (each
#                          job takes well under a second, less than starting a worker)


def probe_locally(jobs: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[int, directprobe.Probed]:
    """DirectProbe on each job, side by side in worker processes where that pays."""
    if not jobs:  # (a rank whose share of the runs is empty)
        return {}
    cpus = geometry_workers()
    workers = min(cpus, len(jobs))
    threads = max(1, cpus // workers)  # each run's label level: the CPUs its share leaves
    if workers <= 1 or sum(len(x) for x, _ in jobs.values()) < POOL_MIN_POINTS:
        return {i: directprobe.probe(x, y, threads) for i, (x, y) in jobs.items()}
    from ..runtime import in_processes

    # spawned workers import only NumPy, SciPy and HiGHS; the largest jobs first, so that the pool
    # ends together
    order = sorted(jobs, key=lambda i: -len(jobs[i][0]))
    return in_processes({i: (directprobe.probe, (*jobs[i], threads)) for i in order}, workers,
                        died=f"a DirectProbe worker's usual cause is memory (each keeps up to about 600 MiB "
                             f"of LPs): set ${GEOMETRY_WORKERS_ENV} to fewer than {workers}")


def geometry_workers() -> int:
    """Worker processes for DirectProbe: ``$CLAIMS_GEOMETRY_WORKERS``, or the CPUs this process
    may use, shared among pytest-xdist's workers and torchrun's ranks on this machine."""
    value = os.environ.get(GEOMETRY_WORKERS_ENV)
    if value is None:
        from ..runtime import cpu_share

        return cpu_share()
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"${GEOMETRY_WORKERS_ENV} must be a whole number of processes, at least 1; got {value!r}")
    return int(value)


def directprobe_inputs(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The content of the points and labels, as a DirectProbe artifact's key."""
    x = np.ascontiguousarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ConfigError(f"DirectProbe needs points (n, d) and n labels, got {x.shape} and {y.shape}")
    points = hashlib.sha256(f"{x.dtype.str}{x.shape}".encode())
    points.update(memoryview(x).cast("B"))
    codes = np.ascontiguousarray(np.unique(y, return_inverse=True)[1].reshape(-1), dtype=np.int64)  # as the
    #                                                                  engine numbers the labels
    return {"points": points.hexdigest(), "labels": hashlib.sha256(memoryview(codes).cast("B")).hexdigest(),
            "n": int(len(x)), "d": int(x.shape[1])}
