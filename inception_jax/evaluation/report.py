"""Presents results like the paper's tables (Network | Crops | Top-1 Error | Top-5 Error), and as JSON."""

from __future__ import annotations

import json

import ml_collections

from inception_jax.evaluation.scoring import Result
from inception_jax.spec import InputSpec

HEADER = ("Network", "Crops", "Top-1 Error", "Top-5 Error")


def markdown_table(results: list[Result]) -> str:
    """A markdown table with one row per result; errors in percent."""
    rows = [HEADER, ("---", "---:", "---:", "---:")]
    rows += [(r.network, str(r.crops), f"{100 * r.top1_error:.2f}%", f"{100 * r.top5_error:.2f}%") for r in results]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def input_summary(input_config: ml_collections.ConfigDict, results: list[Result]) -> str:
    """What the table was measured on: the data, and how each network's images were prepared."""
    images = results[0].count if results else 0
    lines = [f"{input_config.dataset} {input_config.eval_split}: {images} images"]
    specs = {}
    for result in results:
        for member, spec in zip(result.members, result.inputs):
            specs.setdefault(member, spec)
    lines += [f"  {member}: {describe_input(spec)}" for member, spec in specs.items()]
    return "\n".join(lines)


def describe_input(spec: InputSpec) -> str:
    """One line of an input spec, e.g. `299×299, resize_shorter 0.897 bicubic, mean (0.5, ...) std (...)`."""
    return (
        f"{spec.image_size}×{spec.image_size}, {spec.crop_mode} {spec.crop_fraction:g} {spec.interpolation}, "
        f"mean {spec.mean} std {spec.std}"
    )


def write_json(path: str, results: list[Result], input_config: ml_collections.ConfigDict) -> None:
    """The results with what they were measured on (each result names its members' input specs)."""
    record = {
        "dataset": input_config.dataset,
        "eval_split": input_config.eval_split,
        "results": [result.to_json() for result in results],
    }
    with open(path, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
