"""From measurements to the benchmark's record: FLOP rates, MFU, our/peer ratios, and the printed tables.

FLOP convention: a forward pass costs 2·MACs per image and a training step 6·MACs per image (the backward pass
computes input and weight gradients, 2× the forward), where MACs are `inception_jax.summary.count_macs`
(convolutions and dense layers, as timm and the paper count them). Recomputation under remat is not counted,
so TFLOP/s and MFU measure useful work. The peers run the same architectures, so they are credited the same FLOPs.
"""

from __future__ import annotations

import json
import os
import statistics

FLOPS_PER_MAC = {"infer": 2, "train": 6}
# Dense peak TFLOP/s per accelerator, matched as a substring of `device.device_kind`, most specific first.
# The float32 entries are TF32 tensor-core peaks: XLA's default precision runs float32 convolutions in TF32
# there. CPUs have no entry, so no MFU is given for them.
PEAK_TFLOPS = (
    ("H100 PCIe", {"bfloat16": 756.0, "float32": 378.0}),
    ("H100", {"bfloat16": 989.0, "float32": 495.0}),
    ("H200", {"bfloat16": 989.0, "float32": 495.0}),
    ("A100", {"bfloat16": 312.0, "float32": 156.0}),
)
IMPLEMENTATION_NAMES = {
    "ours": "ours (Flax, XLA)",
    "timm": "timm (PyTorch eager)",
    "keras": "Keras 3 (JAX)",
    "keras-stock": "Keras 3 (JAX, stock XLA)",
}


def peak_tflops(device_kind: str, dtype: str) -> float | None:
    """The device's dense peak for `dtype`, or None where it is not in `PEAK_TFLOPS` (CPUs, unlisted GPUs)."""
    for name, peaks in PEAK_TFLOPS:
        if name.lower() in device_kind.lower():
            return peaks.get(dtype)
    return None


def add_flop_rates(result: dict, flops_per_image: float, peak: float | None) -> None:
    """Adds achieved TFLOP/s and, where the peak is known, MFU to a successful result."""
    if result.get("status") != "ok":
        return
    result["tflops"] = result["images_per_s"] * flops_per_image / 1e12
    result["mfu"] = result["tflops"] / peak if peak else None


def ratios(results: dict) -> dict:
    """Our images/s over each peer's; None where the peer has no result."""
    ours = results["ours"]["images_per_s"]
    return {
        peer: ours / result["images_per_s"] if result.get("status") == "ok" else None
        for peer, result in results.items()
        if peer != "ours"
    }


def over_rounds(results: list[dict]) -> dict:
    """One contender's result over `--rounds` turns: the first round's figures, with images/s and seconds per
    step the medians over the rounds, and every round's images/s kept."""
    failed = [result for result in results if result.get("status") != "ok"]
    if failed or len(results) == 1:
        return (failed or results)[0]
    return {
        **results[0],
        "images_per_s": statistics.median(result["images_per_s"] for result in results),
        "step_s": statistics.median(result["step_s"] for result in results),
        "images_per_s_rounds": [result["images_per_s"] for result in results],
    }


def write_json(record: dict, path: str) -> None:
    """Writes the record, creating the folder if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as json_file:
        json.dump(record, json_file, indent=2)
        json_file.write("\n")


def _gigabytes(count) -> str:
    return f"{count / 1e9:.2f} GB" if count else "–"


def format_report(record: dict) -> str:
    """The human-readable summary: one row per implementation, then our/peer ratios and any profile."""
    config, flops, hardware = record["config"], record["flops"], record["hardware"]
    lines = [
        f"{config['model']} · {config['mode']} · batch {config['batch']} · {config['image_size']}×"
        f"{config['image_size']} · {config['dtype']} · remat {config['remat']} · {hardware['device_kind']} "
        f"({hardware['cpu_model']}, {hardware['usable_cores']} cores) · load {hardware['load_average_before'][0]:.1f}",
        f"FLOPs: {flops['flops_per_mac']}·MACs = {flops['flops_per_image'] / 1e9:.1f} GFLOP per image "
        f"({flops['macs_per_image'] / 1e9:.2f} GMACs)",
        "",
        f"{'implementation':<26}{'img/s':>8}{'ms/step':>10}{'compile s':>11}{'peak mem':>11}{'TFLOP/s':>9}"
        f"{'MFU':>7}{'ours ÷ it':>11}",
    ]
    for name, result in record["results"].items():
        label = IMPLEMENTATION_NAMES.get(name, name)
        if result.get("status") != "ok":
            lines.append(f"{label:<26}{result.get('status')}: {result.get('reason', '')}")
            continue
        # Ours: XLA compilation alone; peers: their first step, which for Keras includes compiling.
        compile_s = result.get("compile_s", result["warmup_s"][0])
        memory = result.get("device_peak_bytes") or result["peak_rss_bytes"]
        ratio = record["ratios"].get(name)
        ratio_text = f"{ratio:.2f}×" if ratio else ""
        mfu = f"{100 * result['mfu']:.1f}%" if result.get("mfu") is not None else "–"
        lines.append(
            f"{label:<26}{result['images_per_s']:>8.2f}{1e3 * result['step_s']:>10.0f}{compile_s:>11.1f}"
            f"{_gigabytes(memory):>11}{result['tflops']:>9.3f}{mfu:>7}{ratio_text:>11}"
        )
    ours = record["results"]["ours"]
    lines += [
        "",
        "peak mem: device peak where the backend reports one, else the peak resident set over the timed "
        "steps; compile s: ours = trace + XLA compile, peers = first step.",
    ]
    if ours.get("compiled_memory"):
        memory = ours["compiled_memory"]
        lines.append(
            f"ours, compiled buffers: arguments {_gigabytes(memory['argument'])}, temporaries "
            f"{_gigabytes(memory['temp'])}, outputs {_gigabytes(memory['output'])} "
            f"(aliased/donated {_gigabytes(memory['alias'])})"
        )
    if "profile" in ours:
        lines += ["", *format_profile(ours["profile"])]
    return "\n".join(lines)


def format_profile(profile: dict) -> list[str]:
    """Lines of the profile summary: thread milliseconds per step by kind of op, then the top instructions."""
    total = profile["thread_ms_per_step"]
    lines = [f"profile ({profile['trace_dir']}): {total:.0f} thread-ms per step"]
    lines += [
        f"  {kind:<44}{ms:>9.1f} ms {100 * ms / total:>5.1f}%" for kind, ms in profile["ms_per_step_by_kind"].items()
    ]
    lines.append("  top instructions:")
    for row in profile["top_instructions"]:
        source = "/".join(row["op_name"].split("/")[-4:]) or row["instruction"]
        lines.append(f"  {row['ms_per_step']:>9.1f} ms  {row['kind'][:12]:<13}{row['shape'][:24]:<25}{source}")
    return lines
