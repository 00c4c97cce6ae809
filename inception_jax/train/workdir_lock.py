"""One run per workdir: an advisory lock on `WORKDIR/run.lock`, held by process 0 while the run lasts.

The kernel releases the lock when its process ends, however it ends (SIGKILL included), so a lock that a dead run
left behind is taken over by the next run; the file names the holder's host and process id for the error a second
run gets. `fcntl` locks hold on local disks and on network file systems that support them (NFSv4); a workdir
given as a URL (`gs://...`) is not locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time

import jax

LOCK_FILE = "run.lock"


class WorkdirInUseError(RuntimeError):
    """Another live run holds the workdir."""


@contextlib.contextmanager
def hold(workdir: str):
    """Holds `workdir`'s lock for the block; raises `WorkdirInUseError` naming the other run's host and pid."""
    if jax.process_index() != 0 or "://" in workdir:  # the other processes belong to process 0's run
        yield
        return
    os.makedirs(workdir, exist_ok=True)
    handle = open(os.path.join(workdir, LOCK_FILE), "a+")  # noqa: SIM115  (held across the block)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that has not written its name yet"
        handle.close()
        raise WorkdirInUseError(
            f"{workdir} is in use by another run: {holder}. Wait for that run to end or stop it, or pass another "
            f"--workdir."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"host {socket.gethostname()}, process id {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
