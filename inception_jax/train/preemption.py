"""Preemption: spot and preemptible TPU/GPU VMs get SIGTERM, then a short grace period (30 s on GCP) to stop.

The train loop asks `PreemptionWatch.reached(step)` after each step. One process sets a flag from its own
SIGTERM handler. Several processes use JAX's preemption sync point: the coordination service catches SIGTERM and
every process answers True at the same step, so all of them save the same checkpoint. The trainer then saves,
and raises `Preempted`; `python -m inception_jax.main` turns it into exit code `EXIT_CODE`, and rerunning the same
command resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
import signal
import threading

import jax
from jax.experimental import multihost_utils

# sysexits.h's EX_TEMPFAIL, "a temporary failure; the user is invited to retry": tells a scheduler to requeue.
EXIT_CODE = 75


class Preempted(Exception):
    """Training stopped at `step` on SIGTERM, after writing its checkpoint to `directory`."""

    def __init__(self, step: int, directory: str):
        super().__init__(
            f"Preempted (SIGTERM): stopped after step {step} and saved its checkpoint in {directory}. "
            f"Rerun the same command to resume from it."
        )
        self.step, self.directory = step, directory


class PreemptionWatch:
    """Knows whether to stop after a step; `close` restores the SIGTERM handler it replaced."""

    def __init__(self):
        self._signalled = False
        self._previous_handler = None
        self._multiprocess = jax.process_count() > 1
        # Python signal handlers can only be set from the main thread; several processes use JAX's instead.
        if not self._multiprocess and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        del signum, frame
        self._signalled = True
        logging.warning("SIGTERM: finishing this step, then saving a checkpoint and stopping.")

    def reached(self, step: int) -> bool:
        """True once SIGTERM has arrived (several processes: at the same `step` on every one)."""
        if self._multiprocess:
            return multihost_utils.reached_preemption_sync_point(step)
        return self._signalled

    def close(self) -> None:
        """Puts back the SIGTERM handler this watch replaced."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None
