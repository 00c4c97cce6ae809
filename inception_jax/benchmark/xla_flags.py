"""Our train step and forward pass under each XLA:CPU configuration (YNNPACK, XNNPACK, oneDNN), taking turns.

    python -m inception_jax.benchmark.xla_flags --models=inception_v3,inception_v4,inception_resnet_v2 \
        --modes=train,infer --rounds=2 --json=benchmarks/results/xla-cpu-configurations.json

Each configuration is one XLA_FLAGS value, run as `python -m inception_jax.benchmark --stock_xla` in its own
process (XLA reads its flags once, when its backend starts). For each network and mode the configurations take
turns, `--rounds` times, so that other load falls on all of them alike; each one's images/s is the median over
the rounds. The table gives images/s and the ratio to the configuration the tools use by default
(`inception_jax.xla_cpu.TUNED_XLA_FLAGS`).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile

from absl import flags

from inception_jax import cli
from inception_jax.benchmark import report, timing
from inception_jax.xla_cpu import OPT_OUT_ENV, TUNED_XLA_FLAGS

TUNED = " ".join(TUNED_XLA_FLAGS)
DEFAULT = "tuned"
NO_YNN_DOTS = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution,-individual_dot"
XNN_CONVOLUTIONS = "--xla_cpu_experimental_xnn_fusion_type=+individual_convolution"
ONEDNN = "--xla_cpu_use_onednn=true"
ONEDNN_CUSTOM_CALLS = "--xla_cpu_experimental_onednn_custom_call=true"
# XLA:CPU's library paths in jaxlib 0.10: YNNPACK takes convolutions and dots by default; the fusion-type flags
# add (+) or remove (-) kinds of operation; oneDNN is off unless asked for.
CONFIGURATIONS = {
    "stock": "",
    "tuned": TUNED,
    "no YNNPACK dots either": NO_YNN_DOTS,
    "XNNPACK convolutions": f"{TUNED} {XNN_CONVOLUTIONS}",
    "oneDNN": f"{TUNED} {ONEDNN}",
    "oneDNN custom calls": f"{TUNED} {ONEDNN_CUSTOM_CALLS}",
    # Combinations of the above.
    "oneDNN without YNNPACK dots": f"{NO_YNN_DOTS} {ONEDNN}",
    "XNNPACK convolutions without YNNPACK dots": f"{NO_YNN_DOTS} {XNN_CONVOLUTIONS}",
    "oneDNN with its custom calls": f"{TUNED} {ONEDNN} {ONEDNN_CUSTOM_CALLS}",
}


def define_flags() -> None:
    """The command's flags, defined only when it runs (importing this module for its functions defines none, so
    it can share a process with the tools whose --image_size and --batch these would collide with)."""
    flags.DEFINE_list("models", ["inception_v3", "inception_v4", "inception_resnet_v2"], "Networks to measure.")
    flags.DEFINE_list("modes", ["train", "infer"], "train and/or infer.")
    flags.DEFINE_list("configurations", list(CONFIGURATIONS), f"Which of: {', '.join(CONFIGURATIONS)}.")
    flags.DEFINE_integer("batch", 8, "Global batch.")
    flags.DEFINE_integer("image_size", 299, "Input side.")
    flags.DEFINE_integer("rounds", 2, "Turns per network and mode.")
    flags.DEFINE_integer("repeats", timing.Protocol().repeats, "Timed windows per run (the benchmark's --repeats).")
    flags.DEFINE_string("json", None, "Write the record as JSON to this path.")


def measure(model: str, mode: str, xla_flags: str, *, batch: int, image_size: int, repeats: int) -> dict:
    """Our images/s and compile seconds under `xla_flags`, from the throughput benchmark in its own process."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "record.json")
        command = [sys.executable, "-m", "inception_jax.benchmark", "--stock_xla", f"--model={model}"]
        command += [f"--mode={mode}", f"--batch={batch}", f"--image_size={image_size}", f"--repeats={repeats}"]
        environment = dict(os.environ, XLA_FLAGS=xla_flags, **{OPT_OUT_ENV: "1"})
        done = subprocess.run([*command, f"--json={path}"], env=environment, capture_output=True, text=True)
        if done.returncode:
            return {"status": "failed", "reason": done.stderr.strip().splitlines()[-1] if done.stderr else "?"}
        with open(path) as file:
            record = json.load(file)
    ours = record["results"]["ours"]
    # The flags the measured process ran with, as it read them: the check that the configuration took effect.
    return {
        "status": "ok",
        "images_per_s": ours["images_per_s"],
        "step_s": ours["step_s"],
        "compile_s": ours["compile_s"],
        "xla_flags": record["xla_flags"],
    }


def measure_all(models, modes, names, *, rounds: int, **settings) -> dict:
    """{model: {mode: {configuration: result}}}, the configurations taking turns within each network and mode."""
    table = {}
    for model in models:
        for mode in modes:
            runs = {name: [] for name in names}
            for turn in range(rounds):
                for name in names:
                    timing.log(f"{model} {mode}, round {turn + 1}/{rounds}: {name} ({CONFIGURATIONS[name]!r})")
                    result = measure(model, mode, CONFIGURATIONS[name], **settings)
                    runs[name].append(result)
                    if result["status"] == "ok":
                        timing.log(f"  {result['images_per_s']:.2f} img/s, compiled in {result['compile_s']:.1f} s")
                    else:
                        timing.log(f"  {result['status']}: {result['reason']}")
            # Each configuration's median over its rounds, with the first round's compile seconds and flags.
            table.setdefault(model, {})[mode] = {name: report.over_rounds(results) for name, results in runs.items()}
    return table


def format_table(table: dict, names: list[str]) -> str:
    """A Markdown table: images/s per configuration and its ratio to the tools' default."""
    lines = ["| network | mode | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for model, modes in table.items():
        for mode, results in modes.items():
            default = results.get(DEFAULT, {}).get("images_per_s")
            cells = []
            for name in names:
                result = results[name]
                if result["status"] != "ok":
                    cells.append(result["status"])
                    continue
                ratio = f" ({result['images_per_s'] / default:.2f}×)" if default else ""
                cells.append(f"{result['images_per_s']:.2f}{ratio}")
            lines.append(f"| {model} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv) -> None:
    del argv
    args = flags.FLAGS
    unknown = sorted(set(args.configurations) - set(CONFIGURATIONS))
    if unknown:
        raise ValueError(f"--configurations: unknown {', '.join(unknown)}; choose from {', '.join(CONFIGURATIONS)}.")
    before = timing.host()
    table = measure_all(
        args.models,
        args.modes,
        args.configurations,
        rounds=args.rounds,
        batch=args.batch,
        image_size=args.image_size,
        repeats=args.repeats,
    )
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "batch": args.batch,
        "image_size": args.image_size,
        "rounds": args.rounds,
        "configurations": {name: CONFIGURATIONS[name] for name in args.configurations},
        "host": {**before, "load_average_after": timing.load_average()},
        "results": table,
    }
    print(format_table(table, args.configurations))
    if args.json:
        report.write_json(record, args.json)
        timing.log(f"wrote {args.json}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
