"""Draws results.json as one bar per variant, network and mode: changed ÷ unchanged images/s.

    python experiments/cpu_model_variants/plot.py      # writes ratios.png beside this file

Where a variant was run more than once on the same network and mode, the latest run is drawn.
"""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = pathlib.Path(__file__).parent
NOISE = (0.97, 1.03)  # the spread of one round's figures on the 2-core machine


def latest_ratios(records: list[dict]) -> dict[str, float]:
    """{"variant · network · mode": ratio}, the latest record of each."""
    ratios = {}
    for record in records:
        settings = dict(part.lstrip("-").split("=", 1) for part in record["command"].split()[2:])
        ratios[f"{settings['variant']} · {settings['model']} · {settings['mode']}"] = record["ratio"]
    return ratios


def main() -> None:
    ratios = latest_ratios(json.loads((HERE / "results.json").read_text()))
    labels = sorted(ratios)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(labels) + 1.2))
    ax.axvspan(*NOISE, color="0.9", label="a round's noise")
    colours = ["tab:green" if ratios[label] > NOISE[1] else "tab:grey" for label in labels]
    ax.barh(labels, [ratios[label] - 1 for label in labels], left=1, color=colours)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xlabel("changed ÷ unchanged images/s")
    ax.set_xlim(0.8, 1.1)
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / "ratios.png", dpi=120)


if __name__ == "__main__":
    main()
