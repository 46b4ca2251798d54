"""One GPU per running job on a local machine, and ``zstvg devices`` (:func:`show_device`) to
show the choice.

``snakemake --resources gpu=4`` caps how many GPU jobs run at once but assigns no device: with
``CUDA_VISIBLE_DEVICES`` unset, four jobs would all load on cuda:0. A GPU step given
``--claim-gpu DIR`` takes the first free slot of a pool of lock files in DIR, one per GPU of
the machine (``fcntl.flock``, exclusive, non-blocking), sets ``CUDA_VISIBLE_DEVICES`` to that
GPU before CUDA starts, and keeps the lock for the life of its process: the kernel releases it
on any exit, a crash or SIGKILL included, so a slot never leaks. When every slot is taken it
waits. Where ``CUDA_VISIBLE_DEVICES`` is already set (SLURM's ``--gpus``, or the user's
choice) it is kept and no slot is taken; with no GPU nothing happens (the step runs on CPU).

The GPU count is the number of entries in /proc/driver/nvidia/gpus (no CUDA context is
created), or ``ZSTVG_GPU_COUNT`` where set (tests, other drivers).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

GPU_COUNT_ENV = "ZSTVG_GPU_COUNT"
# Locks held by this process (closing a file would release its lock).
_HELD: list[IO[str]] = []


def gpu_count() -> int:
    if os.environ.get(GPU_COUNT_ENV):
        return int(os.environ[GPU_COUNT_ENV])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device exists, else ``cpu``; other values unchanged.

    A string, not a ``torch.device``: the proposal backends take strings, and this module
    stays importable without torch (it runs before CUDA is chosen)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def claim_gpu(lock_dir: str | Path, poll_s: float = 1.0) -> int | None:
    """Take a free GPU slot (its index, now this process's only visible GPU), or None where
    the devices are already chosen or there is no GPU."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        log.info("CUDA_VISIBLE_DEVICES=%s set by the scheduler or the user; kept",
                 os.environ["CUDA_VISIBLE_DEVICES"])  # fmt: skip
        return None
    n = gpu_count()
    if n == 0:
        return None
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    waiting_since = None
    while True:
        for slot in range(n):
            fh = open(folder / f"gpu{slot}.lock", "a+", encoding="utf-8")  # noqa: SIM115
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")  # who holds it, for a person looking
            fh.flush()
            _HELD.append(fh)
            os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
            log.info("GPU slot %d of %d (CUDA_VISIBLE_DEVICES=%d)", slot, n, slot)
            return slot
        if waiting_since is None:
            waiting_since = time.monotonic()
            log.info("all %d GPU slots in %s are taken; waiting for one", n, folder)
        time.sleep(poll_s)


def show_device(device: str, hold: float = 0.0) -> int:
    """The devices step: print, as one JSON line, the device a step with ``device`` (``auto``,
    ``cpu``, ``cuda``...) would use here: the visible GPUs, the machine's count, torch's pick
    and its threads (``zstvg --threads``); then keep the claimed slot ``hold`` seconds (to watch
    the pool). Returns the exit code."""
    import torch

    print(json.dumps({
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus_on_machine": gpu_count(),
        "device": resolve_device(device),
        "torch_threads": torch.get_num_threads(),
        "pid": os.getpid(),
        "t_start": time.time(),
    }), flush=True)  # fmt: skip
    time.sleep(hold)
    return 0
