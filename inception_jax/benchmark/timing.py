"""The timing protocol of every benchmark here, ours and the peers' alike, and what is recorded beside it.

    from inception_jax.benchmark import timing
    result = timing.measure(run_steps, batch=8, **timing.Protocol().as_dict(), label="ours")
    python -m inception_jax.benchmark --steps=0 --repeats=3 --warmup=2 --min_window_s=2.0   # the same, as flags

What is timed: `run_steps(n)`, a function that runs n steps (a train step, a forward pass, a batch of FID
features) on inputs already in place and returns only once they are done (it blocks on the device). Building
the network, its parameters and its inputs is not timed. Ours is compiled ahead of time and its compilation is
timed on its own (`timed`, the record's `compile_s`); a peer compiles, if at all, in its first warm-up step.

The protocol (`measure`, with the settings of a `Protocol`):
  1. warm-up: `warmup` single steps, each timed alone (`warmup_s`; a peer's first one is its compile time in
     the report) and kept out of the throughput;
  2. `repeats` timed windows of `steps` steps each; `steps=0` picks enough steps for a window to last
     `min_window_s`, judged from the last warm-up step;
  3. images/s is the median window's (`images_per_s`; every window's is kept in `images_per_s_windows`), and
     `step_s` the median window's seconds per step; `peak_rss_bytes` is the resident-set peak over the windows
     alone (start-up and compilation excluded), or the process's lifetime peak where Linux's /proc is missing.
The defaults (`Protocol()`: 3 windows of at least 2 s after 2 warm-up steps) are the throughput CLI's; a peer is
handed the caller's settings on its command line (`Protocol.command_line`, read back by `Protocol.from_args`).

Two contenders: the throughput CLI (`python -m inception_jax.benchmark`) measures ours, then each peer once, in
that order, each peer in its own interpreter. FID's benchmark has them take turns (`alternate`): ours, then the
peer, for a number of rounds, so that other load on the machine falls on both alike; their medians over the
rounds are compared.

Recorded beside (`host`, `load_average`): the CPU model, the cores this process may use (what every framework
is given), and the load average before and after, since other jobs on the machine skew every number.

This module imports only the standard library: a peer's interpreter, which may have neither JAX nor this
package, loads it too (`peers.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable


def log(message: str) -> None:
    """Progress, on stderr (stdout carries a peer's result)."""
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How many steps are timed, and how: see the module docstring."""

    steps: int = 0  # steps per timed window; 0: enough to last min_window_s
    repeats: int = 3  # timed windows; the median is reported
    warmup: int = 2  # untimed steps first
    min_window_s: float = 2.0  # shortest timed window when steps=0

    def as_dict(self) -> dict:
        """The settings, keyed as `measure`'s arguments and the benchmark record's `config`."""
        return dataclasses.asdict(self)

    def command_line(self) -> list[str]:
        """The settings as the peer script's options (`--min-window-s 2.0`, ...)."""
        options = {"--steps": self.steps, "--repeats": self.repeats, "--warmup": self.warmup}
        options["--min-window-s"] = self.min_window_s
        return [word for option, value in options.items() for word in (option, str(value))]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The options `command_line` writes, with `Protocol()`'s defaults."""
        default = cls()
        parser.add_argument("--steps", type=int, default=default.steps)
        parser.add_argument("--repeats", type=int, default=default.repeats)
        parser.add_argument("--warmup", type=int, default=default.warmup)
        parser.add_argument("--min-window-s", type=float, default=default.min_window_s)

    @classmethod
    def from_args(cls, args) -> Protocol:
        """The settings of parsed options (argparse's or absl's FLAGS: both spell them as the fields)."""
        return cls(steps=args.steps, repeats=args.repeats, warmup=args.warmup, min_window_s=args.min_window_s)


# ---------------------------------------------------------------------------------------------- the host


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), which is what every framework is given."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_model() -> str:
    """The processor's marketing name (what `lscpu` shows as "Model name")."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def host() -> dict:
    """The CPU, its usable cores and its load before the measurement (a record's `hardware`, beside the device);
    the caller adds `load_average_after` once done."""
    return {"cpu_model": cpu_model(), "usable_cores": usable_cores(), "load_average_before": load_average()}


# ---------------------------------------------------------------------------------------------- memory


def reset_peak_rss() -> None:
    """Restarts the kernel's resident-set high-water mark, so that start-up and compilation peaks are excluded."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:  # not Linux: `peak_rss_bytes` falls back to the lifetime peak
        pass


def peak_rss_bytes() -> int:
    """Peak resident memory since the last `reset_peak_rss` (VmHWM), or the process lifetime's without /proc."""
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) * 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------------- timing


def timed(function: Callable[[], object]) -> tuple[object, float]:
    """`function()`'s value and the seconds it took (ours: compilation, outside the protocol's windows)."""
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def measure(run_steps, *, batch: int, steps: int, repeats: int, warmup: int, min_window_s: float, label: str) -> dict:
    """Times `run_steps(n)`, which must return only once its n steps are done, with the protocol.

    `warmup` untimed steps come first (the first one may compile). Then `repeats` windows of `steps` steps are
    timed; `steps=0` picks enough steps to fill `min_window_s`, judged from the last warm-up step. Images/s is
    the median window's. Peak memory is the resident-set peak over the timed windows.
    """
    if warmup < 1 or repeats < 1:
        raise ValueError(f"warmup={warmup} and repeats={repeats} must both be at least 1.")
    warmup_seconds = []
    for index in range(warmup):
        start = time.perf_counter()
        run_steps(1)
        warmup_seconds.append(time.perf_counter() - start)
        log(f"[{label}] warm-up step {index + 1}/{warmup}: {warmup_seconds[-1]:.2f} s")
    steps = steps or max(1, math.ceil(min_window_s / warmup_seconds[-1]))
    reset_peak_rss()
    window_seconds = []
    for index in range(repeats):
        start = time.perf_counter()
        run_steps(steps)
        window_seconds.append(time.perf_counter() - start)
        log(f"[{label}] window {index + 1}/{repeats}: {steps} steps, {steps * batch / window_seconds[-1]:.2f} img/s")
    per_window = [steps * batch / seconds for seconds in window_seconds]
    return {
        "status": "ok",
        "images_per_s": statistics.median(per_window),
        "images_per_s_windows": per_window,
        "step_s": statistics.median(window_seconds) / steps,
        "steps": steps,
        "repeats": repeats,
        "warmup_s": warmup_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def alternate(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each contender's figure per round, the contenders taking turns in their order for `rounds` rounds, so that
    other load on the machine falls on each alike; compare their medians."""
    figures = {name: [] for name in contenders}
    for round_index in range(rounds):
        log(f"round {round_index + 1}/{rounds}")
        for name, measure_once in contenders.items():
            figures[name].append(measure_once())
    return figures
