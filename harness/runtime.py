"""Seeds, devices and progress: the small runtime facts every step shares."""

from __future__ import annotations

import logging
import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit choice must be available."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"unknown device {device!r}; allowed: {list(DEVICES)} or cuda:N")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    return torch.device(device)


@contextmanager
def seeded(seed: int, deterministic: bool = True) -> Iterator[None]:
    """Seed Python, NumPy and torch, and (by default) ask torch for deterministic kernels, for one
    block.

    On the CPU this makes training bit-for-bit repeatable for a given seed and thread count. GPU
    callers pass ``deterministic=False``: deterministic CUDA kernels cost a quarter of the
    fine-tuning throughput on an H100 (336 against 467 examples/s, bert-base, batch 16) and,
    without a fixed cuBLAS workspace, still do not make runs bit-for-bit repeatable. The previous
    global RNG states and determinism flag are restored afterwards.
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    det = torch.are_deterministic_algorithms_enabled()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        torch.use_deterministic_algorithms(det)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS says, else the count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_share() -> int:
    """The CPUs this process may use, divided among the processes beside it on this machine that
    share them: pytest-xdist's workers and torchrun's local ranks (at least 1)."""
    cpus = usable_cpus()
    for siblings in (os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"), os.environ.get("LOCAL_WORLD_SIZE", "1")):
        if siblings.isdigit() and int(siblings) > 0:
            cpus = max(1, cpus // int(siblings))
    return cpus


def share_cpus(processes: int) -> int:
    """Limit this process, and the processes it starts, to its share of the CPUs where
    ``processes`` run side by side (pytest-xdist's workers): torch's threads, the BLAS and OpenMP
    pools (threadpoolctl) and the environment variables that size them in child processes.
    Returns the threads each process keeps.

    Without it every worker starts as many threads as there are CPUs: on 2 cores two workers ran
    the unit tests in 9 min 55 s with 1,088 CPU-seconds spent, most of it threads waiting on each
    other, where one process needs about 600.
    """
    threads = max(1, usable_cpus() // max(1, processes))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    return threads


def in_processes(calls: dict, workers: int, *, died: str, initializer=None) -> dict:
    """``{key: (function, args)}`` run in ``workers`` spawned processes (a clean interpreter each:
    no forked torch or BLAS threads), submitted in the order given; the results by key. A worker
    that dies (killed for memory, say) raises a RuntimeError that says so and what to do (``died``),
    not concurrent.futures' BrokenProcessPool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=initializer) as pool:
        futures = {key: pool.submit(fn, *args) for key, (fn, args) in calls.items()}
        try:
            return {key: f.result() for key, f in futures.items()}
        except BrokenProcessPool as exc:
            raise RuntimeError(f"a worker process died ({exc}); {died}") from exc


def quiet() -> bool:
    """True where progress bars would only clutter a log: CI, or no terminal at all."""
    return bool(os.environ.get("CI")) or _terminal() is None


_TTY: Any = None


def _terminal():
    """Where a live bar goes: stderr when it is a terminal; else the controlling terminal
    (``/dev/tty``), which pytest's output capture and a ``| tee log`` leave alone; else None."""
    global _TTY
    if sys.stderr.isatty():
        return sys.stderr
    if _TTY is None:
        try:
            _TTY = open("/dev/tty", "w")  # noqa: SIM115 (kept open for the run's bars)
        except OSError:
            _TTY = False
    return _TTY or None


LOG_EVERY_S = 30.0  # without a terminal, a long stage logs where it stands this often


class Progress:
    """A live progress bar (tqdm: rate and ETA) on the terminal, even under pytest's output
    capture. In CI and where there is no terminal, a log line (logger ``claims``) every
    :data:`LOG_EVERY_S` seconds instead, with the same rate and ETA, so that a long stage is never
    silent for a minute."""

    def __init__(self, total: int, desc: str):
        import time

        self.bar = None
        self.total, self.desc = total, desc
        self.started = self.logged = time.monotonic()
        if not quiet():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=_terminal())
        self.done = 0

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done
        if self.bar is None:
            import time

            now = time.monotonic()
            if now - self.logged >= LOG_EVERY_S and 0 < done < self.total:
                self.logged = now
                rate = done / (now - self.started)
                logging.getLogger("claims").info("%s: %d of %d (%.2f/s, about %.0f s left)", self.desc, done,
                                                 self.total, rate, (self.total - done) / rate)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def machine() -> dict[str, Any]:
    """CPU model and core count, and the GPUs torch sees (name, memory), for reports."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append(f"{p.name} ({p.total_memory / 2**30:.0f} GiB)")
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpus": gpus,
            "torch_cuda": torch.version.cuda, "mps": bool(getattr(torch.backends, "mps", None)
                                                            and torch.backends.mps.is_available())}
