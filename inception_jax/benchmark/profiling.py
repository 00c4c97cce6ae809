"""Where a compiled step spends its time: a `jax.profiler` trace, summed per HLO instruction and per kind of op.

XLA:CPU records one trace event per executed HLO instruction (a fusion, a library call, a copy), named after
it. The compiled HLO text tells what each one is: its opcode, or for a fusion the opcodes of the computation
it calls, and the JAX operation it came from (weight-gradient convolutions carry none). Times are thread time:
XLA runs independent instructions on both threads at once, so they can add up to more than the wall time.

Caveat: the event of a convolution that XLA:CPU runs with Eigen covers only its asynchronous dispatch, so such
convolutions are under-counted. YNNPACK runs them synchronously: profile with `--stock-xla` for convolution
times you can trust.
"""

from __future__ import annotations

import collections
import glob
import os
import re
from typing import NamedTuple

import jax

# Wrappers and markers around the per-instruction events; their time is already inside the events they wrap.
_NOT_INSTRUCTIONS = re.compile(r"^(end: |ThunkExecutor|ThreadpoolListener|SlinkyThreadPool|\$)")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%([\w.-]+) .*\{$")
_INSTRUCTION = re.compile(r"^\s+(?:ROOT )?%([\w.-]+) = (.+?) ([\w-]+)\((.*)$")
_CALLS = re.compile(r"calls=%([\w.-]+)")
_OP_NAME = re.compile(r"op_name=\"([^\"]*)\"")
# (kind, opcodes that make an instruction that kind), first match wins.
OP_KINDS = (
    ("convolution", {"convolution"}),
    ("matmul", {"dot"}),
    ("pooling", {"reduce-window", "select-and-scatter"}),
    ("concatenate/slice/pad", {"concatenate", "slice", "dynamic-slice", "dynamic-update-slice", "pad"}),
    ("reduction (BatchNorm statistics, means)", {"reduce"}),
    ("transpose/copy", {"transpose", "copy"}),
)
ELEMENTWISE = "elementwise (BatchNorm apply, ReLU, updates)"
TOP_INSTRUCTIONS = 15


class Instruction(NamedTuple):
    shape: str
    kind: str
    op_name: str


def parse_instructions(hlo_text: str) -> dict[str, Instruction]:
    """Every instruction of the compiled HLO, by name: result shape, kind of work, and source JAX op."""
    opcodes = collections.defaultdict(set)  # computation → opcodes in it
    parsed = []
    computation = None
    for line in hlo_text.splitlines():
        header = _COMPUTATION.match(line)
        if header:
            computation = header.group(1)
            continue
        match = _INSTRUCTION.match(line)
        if match:
            name, shape, opcode, rest = match.groups()
            opcodes[computation].add(opcode)
            called = _CALLS.search(rest)
            op_name = _OP_NAME.search(rest)
            parsed.append((name, shape, opcode, called and called.group(1), op_name.group(1) if op_name else ""))

    def kind(opcode: str, called: str | None) -> str:
        inside = opcodes[called] if called else {opcode}
        return next((kind for kind, members in OP_KINDS if inside & members), ELEMENTWISE)

    return {name: Instruction(shape, kind(opcode, called), op_name) for name, shape, opcode, called, op_name in parsed}


def instruction_seconds(trace_dir: str) -> collections.Counter:
    """Total thread seconds per HLO instruction in the newest trace under `trace_dir`."""
    traces = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True), key=os.path.getmtime)
    if not traces:
        raise FileNotFoundError(f"jax.profiler wrote no *.xplane.pb under {trace_dir}.")
    seconds = collections.Counter()
    for plane in jax.profiler.ProfileData.from_file(traces[-1]).planes:
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                if not _NOT_INSTRUCTIONS.match(event.name):
                    seconds[event.name] += event.duration_ns / 1e9
    return seconds


def profile_steps(run_steps, steps: int, trace_dir: str, hlo_text: str) -> dict:
    """Traces `run_steps(steps)` into `trace_dir`.

    Returns milliseconds per step by instruction kind and for the top instructions.
    """
    with jax.profiler.trace(trace_dir):
        run_steps(steps)
    instructions = parse_instructions(hlo_text)
    unknown = Instruction("?", ELEMENTWISE, "")
    per_step = {name: 1e3 * seconds / steps for name, seconds in instruction_seconds(trace_dir).items()}
    by_kind = collections.Counter()
    for name, ms in per_step.items():
        by_kind[instructions.get(name, unknown).kind] += ms
    top = [
        {"instruction": name, "ms_per_step": ms, **instructions.get(name, unknown)._asdict()}
        for name, ms in sorted(per_step.items(), key=lambda item: -item[1])[:TOP_INSTRUCTIONS]
    ]
    return {
        "trace_dir": trace_dir,
        "thread_ms_per_step": sum(per_step.values()),
        "ms_per_step_by_kind": dict(by_kind.most_common()),
        "top_instructions": top,
    }
