"""Data-parallel runs across processes (several GPUs, several machines) through PyTorch's own
engine: ``torchrun`` or ``accelerate launch`` start one process per GPU and set ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; the harness then joins the process group (NCCL on GPUs, Gloo
on CPUs) and:

- fine-tunes with ``DistributedDataParallel``: every optimizer step's batch (the protocol's batch
  size, drawn by the same seeded generator on every rank) is split across the ranks, and each
  rank's loss is weighted so that the averaged gradient is the one of the whole batch;
- encodes a share of the texts on each rank and gathers the rows;
- builds each artifact on every rank (the collectives need them all) and publishes rank 0's copy
  (:meth:`harness.store.ArtifactStore.get_or_build`);
- ends every build with :func:`end_step`: the ranks learn whether a build failed anywhere
  (:func:`agree`), so that a failure on one rank fails the step on all of them instead of leaving
  the others waiting in a collective (the run goes on with the next test). Where a rank failed while the others wait
  inside a collective it left, they can no longer run in step: :class:`RanksDiverged` is raised,
  the session stops (``claims/plugin.py``) and torchrun ends the other ranks, in about
  ``CLAIMS_RANK_WAIT`` seconds (default 60) instead of the process group's timeout.

Nothing changes for fixtures or claims: ``torchrun --nproc_per_node 8 -m pytest claims -m full``
or ``accelerate launch -m pytest claims -m full`` is the same command on every GPU; only rank 0
writes the report. With one process (no ``WORLD_SIZE``, or 1) every function here is a no-op.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from filelock import FileLock

from . import store as _store_module
from .errors import ConfigError

RANK_WAIT_S = 60.0
"""How long a rank whose step failed waits for the others at :func:`agree` (``CLAIMS_RANK_WAIT``
overrides it). Ranks that fail the same way (bad data, a missing file) arrive within seconds of
each other; a rank that has not arrived by then is waiting in a collective the failed rank left."""


class FailedOnAnotherRank(RuntimeError):
    """A step this rank finished failed on another rank: it fails here too (the other rank raises
    the error itself), so that every rank goes on to the next step together."""


class RanksDiverged(RuntimeError):
    """A step failed on some ranks while the others could not follow: the ranks are no longer in
    step, and every later collective would hang or mix up data. The run must stop."""


_state: dict[str, Any] = {"side": None, "wait": RANK_WAIT_S, "diverged": None}


def world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    """Whether this process is one of several: joins the process group on first use."""
    if world_size() <= 1:
        return False
    if _state["diverged"] is not None:
        raise RanksDiverged(_state["diverged"])
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
        atexit.register(_leave)
    if _state["side"] is None:  # every rank gets here on its first collective: new_group is one
        _state["wait"] = _rank_wait()  # a bad value fails here, on every rank alike
        _state["side"] = dist.new_group(backend="gloo")  # CPU side channel: a timeout per call
    return True


def _leave() -> None:
    """At exit, the process group we joined is left (Gloo's threads otherwise abort the process
    now and then); not once the ranks are out of step, where leaving could wait on a stuck one."""
    if dist.is_initialized() and _state["diverged"] is None:
        dist.destroy_process_group()


def local_device() -> str:
    """``cuda:LOCAL_RANK`` for a rank of a GPU run; ``cuda`` otherwise (where CUDA exists)."""
    if active() and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cuda"


def barrier() -> None:
    if active():
        dist.barrier()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_rows(rows: np.ndarray, part: np.ndarray, n: int) -> np.ndarray:
    """Each rank holds the rows ``part`` (indices into ``n``) of an array: the whole array, rows
    in index order, on every rank (in one process: ``rows`` put in their places)."""
    parts: list[Any] = [(part, rows)]
    if active():
        parts = [None] * world_size()
        dist.all_gather_object(parts, (part, rows))
    out = np.empty((n,) + rows.shape[1:], dtype=rows.dtype)
    for idx, block in parts:
        out[idx] = block
    return out


def all_gather_dict(part: dict) -> dict:
    """The union of every rank's ``part`` (disjoint keys), on every rank."""
    if not active():
        return dict(part)
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, part)
    return {k: v for p in parts for k, v in p.items()}


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    if not active():
        return tensor
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor / world_size()


def agree(step: str, error: BaseException | None) -> dict[int, str]:
    """End a step that every rank runs (an artifact build): ``{rank: "Error: message"}`` for the
    ranks where it failed, ``{}`` where it succeeded everywhere; the same answer on every rank.

    A rank whose step failed waits ``CLAIMS_RANK_WAIT`` seconds for the others; where one does not
    come, it is waiting in a collective this rank left, and :class:`RanksDiverged` is raised (and
    on every later use of the process group: the ranks can no longer run in step). A rank whose
    step succeeded waits as long as the process group's timeout."""
    if not active():
        return {} if error is None else {0: _describe(error)}
    wait = _state["wait"] if error is not None else None
    try:
        # Gloo's monitored barrier takes a timeout per call and names the ranks that did not come
        dist.monitored_barrier(group=_state["side"], timeout=None if wait is None else timedelta(seconds=wait),
                               wait_all_ranks=True)
        statuses: list[Any] = [None] * world_size()
        dist.all_gather_object(statuses, None if error is None else _describe(error), group=_state["side"])
    except RuntimeError as exc:  # a rank did not come in time, or its process is gone
        mine = f"this rank ({rank()}) failed it with {_describe(error)}" if error is not None else \
            f"this rank ({rank()}) finished it"
        _state["diverged"] = (
            f"{step}: {mine}, and not every rank reached its end ({exc}). A rank that did not is waiting in a "
            f"collective that a failed rank left; the ranks can no longer run in step, so the run stops")
        raise RanksDiverged(_state["diverged"]) from error
    return {r: status for r, status in enumerate(statuses) if status is not None}


def end_step(step: str, error: Exception | None) -> None:
    """:func:`agree`, then raise: this rank's own ``error``, or :class:`FailedOnAnotherRank` where
    the step failed elsewhere; nothing where it succeeded everywhere."""
    failed = agree(step, error)
    if error is not None:
        raise error
    if failed:
        raise FailedOnAnotherRank(f"{step}: failed on " + "; ".join(
            f"rank {r} ({status})" for r, status in sorted(failed.items())))


def _rank_wait() -> float:
    value = os.environ.get("CLAIMS_RANK_WAIT", str(RANK_WAIT_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"CLAIMS_RANK_WAIT must be a number of seconds above 0, got {value!r}")
    return seconds


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def get_or_build(store, kind, key, version, inputs, build):
    """The store's build under several processes: the build runs on every rank, since
    it may hold collectives (DDP fine-tuning, sharded encoding); rank 0 decides, under the
    key's lock, whether to build, and publishes its copy; the others build into a throw-away
    folder. The store must be on a file system all ranks see. A build that fails on any rank
    fails on every rank (:func:`end_step`), and the ranks stay in step."""
    error: Exception | None = None
    needed = False
    try:
        if is_main():
            with FileLock(str(store.root / ".locks" / f"{key}.lock")):
                needed = broadcast(store._open(kind, key, cache_hit=True) is None)
                if needed:
                    store._publish(kind, key, version, inputs, build)
        else:
            needed = broadcast(None)
            if needed:
                scratch = Path(tempfile.mkdtemp(prefix=f"claims-rank{rank()}-"))
                try:
                    build(scratch)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
    except Exception as exc:  # told to the other ranks first, then raised
        error = exc
    end_step(f"{kind}/{key[:12]}", error)
    (store.stats.builds if needed else store.stats.hits).append(f"{kind}/{key}")
    artifact = store._open(kind, key, cache_hit=not needed)
    if artifact is None:
        raise RuntimeError(f"{kind}/{key[:12]}: rank 0 published it, but rank {rank()} cannot "
                           f"see it under {store.root}: the store must be on a file system every rank shares")
    return artifact


class _Ranks:
    """What :mod:`harness.store` calls under several processes (it does not import this module)."""

    active = staticmethod(active)
    get_or_build = staticmethod(get_or_build)


_store_module.RANKS = _Ranks()
