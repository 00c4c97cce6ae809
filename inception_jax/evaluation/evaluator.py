"""`evaluate(...)`: training runs and converted weights, alone and as an ensemble, at 1, 12 or 144 crops.

The library behind `python -m inception_jax.evaluate`, importable from tests and notebooks:

    results = evaluate(workdirs=["runs/default"], crops=(1, 144))          # raw and EMA rows, like the trainer
    results = evaluate(weights=["weights/v4", "weights/irv2"], input_config=imagenet.input, ensemble=True)

What to evaluate on (dataset, split, eval batch size) is `input_config` (an experiment config's `input`) when
given, else the one stored by the first workdir. Networks are always rebuilt from what trained or converted them,
and each one's images are prepared as its saved spec says (image size, crop, resize, mean/std), except for the
InputSpec fields in `input_overrides`, which apply to every network.
"""

from __future__ import annotations

from collections.abc import Sequence

import ml_collections

from inception_jax import artifacts
from inception_jax.data import pipeline
from inception_jax.evaluation import crops as crops_lib
from inception_jax.evaluation import networks as networks_lib
from inception_jax.evaluation.networks import CONVERTED, EMA, RAW, LoadedNetwork
from inception_jax.evaluation.scoring import Entry, Result, score
from inception_jax.train import mesh as mesh_lib

# Input fields that must agree between the runs of one evaluation when their stored configs are used.
_SHARED_INPUT_FIELDS = ("dataset", "data_dir", "folder", "eval_split")


def evaluate(
    workdirs: Sequence[str] = (),
    weights: Sequence[str] = (),
    crops: Sequence[int] = (1,),
    ema: bool | None = None,
    ensemble: bool = False,
    step: int | None = None,
    input_config: ml_collections.ConfigDict | None = None,
    max_examples: int | None = None,
    input_overrides: dict | None = None,
) -> list[Result]:
    """Results for every network (and their ensemble) at every crop count, in table order.

    Args:
      workdirs: training runs; each gives its raw and/or EMA network (see `ema`).
      weights: directories written by `python -m inception_jax.convert`; each gives one network.
      crops: crop counts, each of `crops.CROP_COUNTS`; one pass over the data per count.
      ema: True: EMA networks only; False: raw only; None: both, like the trainer's evaluation.
      ensemble: also score the average of all networks' probabilities (one ensemble each for raw and EMA).
      step: the checkpoint step of every workdir (default: each one's latest).
      input_config: what to evaluate on, an experiment config's `input` (default: the first run's).
      max_examples: evaluate only the first this many images of the split.
      input_overrides: InputSpec fields (image_size, crop_fraction, crop_mode, interpolation, mean, std) that
        replace every network's own; None values are ignored.
    """
    if not workdirs and not weights:
        raise ValueError("Nothing to evaluate: pass at least one training --workdir or converted --weights.")
    unknown = sorted(set(crops) - set(crops_lib.CROP_COUNTS))
    if unknown:
        raise ValueError(f"crops {unknown} are not protocols; choose from {crops_lib.CROP_COUNTS}.")
    input_config = evaluation_input(workdirs, step, input_config)
    num_classes = pipeline.num_classes(input_config)
    mesh = mesh_lib.make_mesh()
    kinds = (RAW, EMA) if ema is None else ((EMA,) if ema else (RAW,))
    networks = [
        network for workdir in workdirs for network in networks_lib.load_run(workdir, num_classes, mesh, step, kinds)
    ]
    networks += [networks_lib.load_converted(directory, num_classes, mesh) for directory in weights]
    networks = [network.with_input(**(input_overrides or {})) for network in networks]
    entries = [Entry(network.name, (network,)) for network in networks]
    if ensemble:
        entries += ensembles(networks, kinds)
    return [result for count in crops for result in score(entries, input_config, count, mesh, max_examples)]


def ensembles(networks: list[LoadedNetwork], kinds: tuple[str, ...]) -> list[Entry]:
    """One ensemble of all networks per kind of training-run weights (raw, EMA); converted weights join each."""
    kinds = [kind for kind in kinds if any(network.kind == kind for network in networks)] or [CONVERTED]
    entries = []
    for kind in kinds:
        members = tuple(network for network in networks if network.kind in (kind, CONVERTED))
        entries.append(Entry(f"Ensemble of {len(members)}{', EMA' if kind == EMA else ''}", members))
    return entries


def evaluation_input(
    workdirs: Sequence[str], step: int | None = None, input_config: ml_collections.ConfigDict | None = None
) -> ml_collections.ConfigDict:
    """`input_config` if given, else the input the runs were trained with (which must agree on what data it is)."""
    if input_config is not None:
        return input_config
    if not workdirs:
        raise ValueError(
            "Converted --weights do not say which data to evaluate them on: pass --config, e.g. "
            "--config=inception_jax:inception_v4 --config.input.data_dir=DIR for ImageNet."
        )
    stored = [artifacts.read_run_config(workdir, step)[0].input for workdir in workdirs]
    for workdir, other in zip(workdirs[1:], stored[1:]):
        differing = [field for field in _SHARED_INPUT_FIELDS if other.get(field) != stored[0].get(field)]
        if differing:
            raise ValueError(
                f"{workdirs[0]} and {workdir} were trained on different input ({', '.join(differing)} "
                f"differ); pass --config to choose the evaluation input for all of them."
            )
    return stored[0]
