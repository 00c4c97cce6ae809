"""Presents results like the paper's tables (Network | Crops | Top-1 Error | Top-5 Error), and as JSON."""
from __future__ import annotations

import json

import ml_collections

from inception_jax.evaluation.scoring import Result

HEADER = ("Network", "Crops", "Top-1 Error", "Top-5 Error")


def markdown_table(results: list[Result]) -> str:
    """A markdown table with one row per result; errors in percent."""
    rows = [HEADER, ("---", "---:", "---:", "---:")]
    rows += [(r.network, str(r.crops), f"{100 * r.top1_error:.2f}%", f"{100 * r.top5_error:.2f}%") for r in results]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def input_summary(input_config: ml_collections.ConfigDict, results: list[Result]) -> str:
    """One line saying what the table was measured on."""
    images = results[0].count if results else 0
    return (f"{input_config.dataset} {input_config.eval_split}: {images} images at "
            f"{input_config.image_size}×{input_config.image_size}")


def write_json(path: str, results: list[Result], input_config: ml_collections.ConfigDict) -> None:
    """The results with what they were measured on, for later tables and plots."""
    record = {"dataset": input_config.dataset, "eval_split": input_config.eval_split,
              "image_size": input_config.image_size, "results": [result.to_json() for result in results]}
    with open(path, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
