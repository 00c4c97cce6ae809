"""Fault injection: a short training run killed with SIGKILL at random moments, checkpoint saves included, then
rerun; each rerun must end bitwise equal to an uninterrupted run.

`run_trials` does the work and `table` prints what docs/reliability.md records; `python -m inception_jax.faults`
is the command. Odd-numbered trials are aimed at the save of a step drawn at random: the kill comes as soon as
Orbax's temporary directory for that step appears. The others are killed after a delay drawn uniformly over an
uninterrupted run's duration. The run is
`python -m inception_jax.main` on the embedded digits with a network that compiles in seconds (ResNet-20 cut to one
block per stage, 32 px): the trainer's bookkeeping, not the network, is under test.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from inception_jax.configs.digits import QUICK_NETWORK

TMP_SUFFIX = ".orbax-checkpoint-tmp"  # Orbax writes a step here and renames it when complete
RUN_OVERRIDES = {
    **QUICK_NETWORK,
    "input.batch_size": 16,
    "schedule.reference_batch_size": 16,
    "total_epochs": 0.0,
    "checkpoint_every_steps": 2,
    "log_every_steps": 2,
}


@dataclasses.dataclass
class Trial:
    """One killed and rerun run: when the kill came, what it hit, and how the rerun ended."""

    index: int
    aimed_at_save: bool
    killed_after_s: float
    killed_while_running: bool  # False: the run had already finished when the signal came
    killed_during_save: bool  # a step's temporary directory was left behind
    resumed_from_step: int  # where the rerun started: 0 when no checkpoint had been completed
    resumed_exactly: bool
    problem: str = ""


def main_command(workdir: str, steps: int, data_dir: str | None) -> list[str]:
    overrides = {**RUN_OVERRIDES, "total_steps": steps, "eval_every_steps": steps}
    if data_dir:
        overrides["input.data_dir"] = data_dir
    return [sys.executable, "-m", "inception_jax.main", "--config=inception_jax:default", f"--workdir={workdir}"] + [
        f"--config.{field}={value}" for field, value in overrides.items()
    ]


def saved_state(workdir: str) -> tuple[int, dict]:
    """The newest checkpoint's step and everything saved with it, as host arrays."""
    import jax  # noqa: PLC0415  (the command's own process need not start JAX before its runs)

    from inception_jax.train.checkpoint import TrainCheckpoints  # noqa: PLC0415

    checkpoints = TrainCheckpoints(workdir)
    try:
        step = checkpoints.latest_step()
        return step, jax.device_get(checkpoints.read_saved(step))
    finally:
        checkpoints.close()


def _same(a: dict, b: dict) -> bool:
    import jax  # noqa: PLC0415

    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    return tree_a == tree_b and all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b, strict=True))


def _tmp_dirs(workdir: str, step: int | None = None) -> list[str]:
    directory = os.path.join(workdir, "checkpoints")
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return [name for name in names if TMP_SUFFIX in name and (step is None or name.startswith(f"{step}."))]


def _run(command: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


def run_trials(
    trials: int,
    root: str,
    *,
    steps: int = 12,
    data_dir: str | None = None,
    seed: int = 0,
    timeout_s: float = 600,
    progress: Callable[[str], None] = print,
) -> list[Trial]:
    """Runs the uninterrupted reference in `root/reference`, then `trials` killed-and-rerun runs beside it."""
    started = time.monotonic()
    reference = _run(main_command(os.path.join(root, "reference"), steps, data_dir), timeout_s)
    if reference.returncode:
        raise RuntimeError(f"The uninterrupted run failed:\n{reference.stderr[-3000:]}")
    duration = time.monotonic() - started
    reference_step, reference_state = saved_state(os.path.join(root, "reference"))
    progress(f"Uninterrupted run: {steps} steps in {duration:.1f} s (process start included)")
    draw = random.Random(seed)
    results = []
    for index in range(trials):
        workdir = os.path.join(root, f"trial_{index}")
        aimed_at_save = index % 2 == 1
        delay = draw.uniform(0.0, duration)
        every = RUN_OVERRIDES["checkpoint_every_steps"]
        target = draw.choice(range(every, steps + 1, every))  # the save to kill, for aimed trials
        process = subprocess.Popen(
            main_command(workdir, steps, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        start = time.monotonic()
        deadline = start + (timeout_s if aimed_at_save else delay)
        while time.monotonic() < deadline and process.poll() is None:
            if aimed_at_save and _tmp_dirs(workdir, target):
                break
            time.sleep(0.002 if aimed_at_save else 0.01)
        killed_while_running = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        trial = Trial(
            index=index,
            aimed_at_save=aimed_at_save,
            killed_after_s=round(time.monotonic() - start, 2),
            killed_while_running=killed_while_running,
            killed_during_save=bool(_tmp_dirs(workdir)),
            resumed_from_step=0,
            resumed_exactly=False,
        )
        rerun = _run(main_command(workdir, steps, data_dir), timeout_s)
        resumed = re.search(r"Resumed from \S+ at step (\d+)", rerun.stderr)
        trial.resumed_from_step = int(resumed.group(1)) if resumed else 0
        if rerun.returncode:
            trial.problem = f"the rerun exited {rerun.returncode}: {rerun.stderr.strip().splitlines()[-1:]}"
        else:
            step, state = saved_state(workdir)
            trial.resumed_exactly = step == reference_step and _same(state, reference_state)
            trial.problem = "" if trial.resumed_exactly else f"final state differs (step {step})"
        results.append(trial)
        progress(
            f"trial {index + 1}/{trials}: killed after {trial.killed_after_s:.2f} s"
            f"{' during a save' if trial.killed_during_save else ''}"
            f"{'' if trial.killed_while_running else ' (already finished)'}; rerun from step "
            f"{trial.resumed_from_step}: {'ended exactly' if trial.resumed_exactly else 'LOST, ' + trial.problem}"
        )
    return results


def table(results: list[Trial]) -> str:
    """The summary as a Markdown table: trials, kills while running and during a save, reruns that resumed from a
    checkpoint, reruns that ended exactly as the uninterrupted run, and runs lost (the others)."""
    rows = {
        "trials": len(results),
        "killed while running": sum(t.killed_while_running for t in results),
        "killed during a save": sum(t.killed_during_save for t in results),
        "rerun from a checkpoint": sum(t.resumed_from_step > 0 for t in results),
        "resumed exactly": sum(t.resumed_exactly for t in results),
        "lost": sum(not t.resumed_exactly for t in results),
    }
    return "| " + " | ".join(rows) + " |\n|" + "---|" * len(rows) + "\n| " + " | ".join(map(str, rows.values())) + " |"
