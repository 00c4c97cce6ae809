"""The one-shot GPU benchmark: our train step in bfloat16 against timm at its fastest, on one GPU, in one command.

    bash benchmarks/gpu.sh runs/gpu            # one H100/H200: under 8 minutes
    bash benchmarks/gpu.sh runs/gpu --tiny     # any CPU: reduced networks at 75×75, what CI runs

For Inception-ResNet-v2 and Inception-v4, each part in a process of its own (each then has the device to itself,
and memory figures are its own):
  1. ours: bfloat16 compute, float32 parameters and BatchNorm statistics, the paper's train step at the largest
     power-of-two batch up to --max_batch that fits (`python -m inception_jax.benchmark --find_batch`);
  2. timm at that batch, as its users run it fastest: CUDA, AMP bfloat16, channels_last, torch.compile.
Then `--remat=block` at each network's batch, and last the input pipeline's images/s per core on this host (it is
tf.data: without TensorFlow, as on the GPU image, it is recorded as n/a). Parts that would start after --budget_s
are recorded as skipped, in that order of importance.

Each part writes OUT/<part>.json (the benchmark's own record); OUT/summary.json gathers the table (ours ÷ timm,
MFU against the device's peak, compile seconds, memory), which is also printed as Markdown for docs/performance.md.
In --tiny mode our networks are reduced and timm's are not, so no ratio is given; timm runs eagerly there
(torch.compile takes minutes on a CPU).
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from absl import flags

from inception_jax import cli
from inception_jax.benchmark import report, timing
from inception_jax.benchmark.peers import run_peer

MODELS = ("inception_resnet_v2", "inception_v4")
# --tiny: widths and depths that compile in seconds on a CPU; the code paths are the full-size ones.
TINY_OPTIONS = {
    "inception_resnet_v2": {"width_multiplier": 0.1, "min_depth": 4, "block_counts": (1, 1, 1)},
    "inception_v4": {"width_multiplier": 0.1, "min_depth": 4},
}
PROTOCOL = timing.Protocol()
TINY_PROTOCOL = timing.Protocol(steps=1, repeats=1, warmup=1, min_window_s=0.0)
DTYPE = "bfloat16"

flags.DEFINE_string("out", None, "Folder for the JSON records (created).")
flags.DEFINE_bool("tiny", False, "Reduced networks at 75×75 and a batch of at most 4: checks the script on a CPU.")
flags.DEFINE_list("models", list(MODELS), "Networks to measure, most important first.")
flags.DEFINE_integer("max_batch", 1024, "Largest batch the search tries (a power of two).")
flags.DEFINE_string("timm_python", sys.executable, "Python with torch and timm (the GPU image has them beside JAX).")
flags.DEFINE_float("budget_s", 450.0, "Parts that would start after this many seconds are skipped (and recorded).")
FLAGS = flags.FLAGS


def _part_path(name: str) -> str:
    return os.path.join(FLAGS.out, f"{name}.json")


def _save(name: str, record: dict) -> dict:
    report.write_json(record, _part_path(name))
    return record


def run_benchmark(name: str, arguments: list[str], env: dict) -> dict:
    """`python -m inception_jax.benchmark ARGUMENTS --json=OUT/NAME.json` in its own process; its record, or a
    "failed" one (its error is printed above)."""
    command = [sys.executable, "-m", "inception_jax.benchmark", *arguments, f"--json={_part_path(name)}"]
    timing.log(f"[gpu] {name}: {shlex.join(command)}")
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode:
        return _save(name, {"status": "failed", "reason": f"exit status {completed.returncode}; printed above"})
    with open(_part_path(name)) as record_file:
        return json.load(record_file)


def measured(record: dict | None) -> bool:
    """Whether a part's record holds a measurement (not a failure or n/a)."""
    return bool(record) and "results" in record


def measure_ours(model: str, *, remat: str, batch: int, find_batch: bool, cache_dir: str) -> dict:
    """`python -m inception_jax.benchmark` in its own process; its record, or why there is none.

    `cache_dir`: this invocation's compilation cache, through which the remat run reuses GPU autotuning results
    (a fresh one per invocation, so that no compile time in the records is a cache hit from an earlier run).
    """
    name = f"{model}-ours" + ("" if remat == "none" else f"-remat-{remat}")
    protocol = TINY_PROTOCOL if FLAGS.tiny else PROTOCOL
    arguments = [
        f"--model={model}",
        "--mode=train",
        f"--dtype={DTYPE}",
        f"--remat={remat}",
        f"--batch={batch}",
        f"--find_batch={find_batch}",
        *(f"--{key}={value}" for key, value in protocol.as_dict().items()),
    ]
    if FLAGS.tiny:
        arguments += ["--image_size=75"] + [f"--model.{k}={v}" for k, v in TINY_OPTIONS[model].items()]
    env = dict(os.environ)
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.9")  # JAX preallocates 75% by default; torch may use all
    env.setdefault("JAX_COMPILATION_CACHE_DIR", cache_dir)
    return run_benchmark(name, arguments, env)


def measure_timm(model: str, ours: dict) -> dict:
    """timm at our batch (halved once if it runs out of memory there), credited our FLOPs per image."""
    config = ours["config"]
    on_gpu = ours["hardware"]["platform"] == "gpu"
    protocol = TINY_PROTOCOL if FLAGS.tiny else PROTOCOL
    result = {}
    for batch in (config["batch"], config["batch"] // 2):
        result = run_peer(
            "timm",
            FLAGS.timm_python,
            model=model,
            mode="train",
            batch=batch,
            image_size=config["image_size"],
            dtype=DTYPE,
            device="cuda" if on_gpu else "cpu",
            channels_last=True,
            compile=on_gpu,
            **protocol.as_dict(),
        )
        result["batch"] = batch
        if result["status"] == "ok" or batch < 2:
            break
    report.add_flop_rates(result, ours["flops"]["flops_per_image"], ours["peak_tflops"])
    return _save(f"{model}-timm", result)


def measure_input_pipeline() -> dict:
    """The tf.data pipeline's decoded and augmented images/s per core, or n/a without TensorFlow."""
    if importlib.util.find_spec("tensorflow") is None:
        return _save("input-pipeline", {"status": "n/a", "reason": "TensorFlow is not installed here"})
    size, batch, batches = (75, 8, 2) if FLAGS.tiny else (299, 64, 50)
    arguments = ["--input_pipeline", f"--batch={batch}", f"--image_size={size}", f"--pipeline_batches={batches}"]
    record = run_benchmark("input-pipeline", arguments, dict(os.environ, CUDA_VISIBLE_DEVICES=""))  # host work only
    return record if record.get("status") == "failed" else {"status": "ok", **record}


# ---------------------------------------------------------------------------------------------- the table


def summary_row(model: str, ours: dict, timm: dict | None, remat: dict | None) -> dict:
    """One network's line of the table; absent figures are None."""
    mine = ours["results"]["ours"]
    row = {
        "model": model,
        "batch": ours["config"]["batch"],
        "ours_images_per_s": mine["images_per_s"],
        "ours_mfu": mine.get("mfu"),
        "ours_compile_s": mine["compile_s"],
        "ours_memory_bytes": mine.get("compiled_peak_bytes"),
        "timm_batch": None,
        "timm_images_per_s": None,
        "timm_mfu": None,
        "timm_first_step_s": None,
        "timm_memory_bytes": None,
        "ours_over_timm": None,
        "remat_images_per_s": None,
        "remat_memory_bytes": None,
    }
    if timm and timm.get("status") == "ok":
        row.update(
            timm_batch=timm["batch"],
            timm_images_per_s=timm["images_per_s"],
            timm_mfu=timm.get("mfu"),
            timm_first_step_s=timm["warmup_s"][0],
            timm_memory_bytes=timm.get("device_peak_bytes") or timm.get("peak_rss_bytes"),
        )
        if not FLAGS.tiny:  # tiny: our networks are reduced, timm's are not. Images/s at timm's batch if halved.
            row["ours_over_timm"] = mine["images_per_s"] / timm["images_per_s"]
    if measured(remat):
        row.update(
            remat_images_per_s=remat["results"]["ours"]["images_per_s"],
            remat_memory_bytes=remat["results"]["ours"].get("compiled_peak_bytes"),
        )
    return row


def markdown_table(rows: list[dict]) -> str:
    def number(value, pattern):
        return "–" if value is None else pattern.format(value)

    def timm_batch(row):  # timm ran out of memory at our batch: say at which it ran
        return f" (batch {row['timm_batch']})" if row["timm_batch"] not in (None, row["batch"]) else ""

    lines = [
        "| network | batch | ours img/s | timm img/s | ours ÷ timm | ours MFU | timm MFU | ours compile s "
        "| timm first step s | ours memory GB | remat img/s | remat memory GB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['batch']} | {number(row['ours_images_per_s'], '{:.0f}')} "
            f"| {number(row['timm_images_per_s'], '{:.0f}')}{timm_batch(row)} "
            f"| {number(row['ours_over_timm'], '{:.2f}×')} "
            f"| {number(row['ours_mfu'] and 100 * row['ours_mfu'], '{:.1f}%')} "
            f"| {number(row['timm_mfu'] and 100 * row['timm_mfu'], '{:.1f}%')} "
            f"| {number(row['ours_compile_s'], '{:.0f}')} | {number(row['timm_first_step_s'], '{:.0f}')} "
            f"| {number(row['ours_memory_bytes'] and row['ours_memory_bytes'] / 1e9, '{:.2f}')} "
            f"| {number(row['remat_images_per_s'], '{:.0f}')} "
            f"| {number(row['remat_memory_bytes'] and row['remat_memory_bytes'] / 1e9, '{:.2f}')} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the run


def main(argv) -> None:
    del argv
    cli.require("out")
    os.makedirs(FLAGS.out, exist_ok=True)
    start = time.monotonic()
    skipped: list[str] = []

    def within_budget(part: str) -> bool:
        if time.monotonic() - start < FLAGS.budget_s:
            return True
        timing.log(f"[gpu] {part}: skipped, past --budget_s={FLAGS.budget_s:.0f}")
        skipped.append(part)
        return False

    max_batch = 4 if FLAGS.tiny else FLAGS.max_batch
    cache_dir = tempfile.mkdtemp(prefix="inception_jax_gpu_benchmark_")
    ours, timm, remat = {}, {}, {}
    try:
        for model in FLAGS.models:
            if within_budget(f"{model}-ours"):
                ours[model] = measure_ours(model, remat="none", batch=max_batch, find_batch=True, cache_dir=cache_dir)
            if measured(ours.get(model)) and within_budget(f"{model}-timm"):
                timm[model] = measure_timm(model, ours[model])
        for model in ours:
            if measured(ours[model]) and within_budget(f"{model}-ours-remat-block"):
                batch = ours[model]["config"]["batch"]
                remat[model] = measure_ours(model, remat="block", batch=batch, find_batch=False, cache_dir=cache_dir)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    pipeline = measure_input_pipeline() if within_budget("input-pipeline") else None

    rows = [summary_row(m, ours[m], timm.get(m), remat.get(m)) for m in ours if measured(ours[m])]
    first = next((record for record in ours.values() if measured(record)), {})
    summary = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(
            ["bash", "benchmarks/gpu.sh", FLAGS.out, *(arg for arg in sys.argv[1:] if not arg.startswith("--out="))]
        ),
        "tiny": FLAGS.tiny,
        "dtype": DTYPE,
        "hardware": first.get("hardware"),
        "peak_tflops": first.get("peak_tflops"),
        "versions": {
            **first.get("versions", {}),
            **next((t.get("versions", {}) for t in timm.values() if t.get("status") == "ok"), {}),
        },
        "rows": rows,
        "failed": [
            f"{model}-{part}"
            for part, records in (("ours", ours), ("timm", timm), ("ours-remat-block", remat))
            for model, record in records.items()
            if record.get("status") == "failed"
        ],
        "skipped": skipped,
        "input_pipeline_images_per_s_per_core": (pipeline or {}).get("images_per_s_per_core"),
        "wall_s": time.monotonic() - start,
    }
    _save("summary", summary)
    print(markdown_table(rows))
    print(f"input pipeline: {summary['input_pipeline_images_per_s_per_core'] or '–'} images/s per core")
    timing.log(f"[gpu] {len(rows)} networks in {summary['wall_s']:.0f} s; records in {FLAGS.out}")


if __name__ == "__main__":
    cli.run(main)
