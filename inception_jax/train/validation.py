"""One pass over an experiment config before anything is built or compiled: every wrong field at once.

Each problem names the field, its value and a value that works, so a pod job fails in seconds, not after the
initialiser has compiled or 5,000 steps in at the first evaluation. The dataset is opened last (it may need
preparing); its counts are returned for the trainer.
"""

from __future__ import annotations

import logging
import os

import jax
import ml_collections

from inception_jax.data import pipeline
from inception_jax.models import create_model


def check_config(
    config: ml_collections.ConfigDict, num_devices: int | None = None, *, prepare: bool = True
) -> pipeline.DatasetInfo | None:
    """Raises one ValueError listing every invalid field of `config`; returns the dataset's counts.

    `num_devices` defaults to every device of every process (`jax.device_count()`). With `prepare=False` a TFDS
    dataset not yet prepared is left alone: its counts are not checked, and None is returned.
    """
    num_devices = jax.device_count() if num_devices is None else num_devices
    problems = [*_model_problems(config), *_schedule_problems(config), *_batch_problems(config, num_devices)]
    problems += _input_problems(config.input)
    info = None
    if not problems:  # opening a dataset can mean preparing it: only for an otherwise valid config
        try:
            info = (pipeline.dataset_info if prepare else pipeline.dataset_info_if_prepared)(config.input)
        except (ValueError, FileNotFoundError, KeyError, AssertionError) as error:  # TFDS: KeyError for a split
            problems.append(f"input.dataset={config.input.dataset!r}: {error}")
        else:
            problems += _split_problems(config, info) if info else []
    if problems:
        raise ValueError(
            f"The config has {len(problems)} invalid field(s):\n  " + "\n  ".join(problems) + "\n"
            "Fix them with --config.FIELD=VALUE or in the config file."
        )
    return info


def _model_problems(config) -> list[str]:
    try:
        module = create_model(config.model_name, **{**config.get("model", {}), "num_classes": 2})
    except (ValueError, TypeError) as error:  # the registry's errors list the valid names and options
        field = "model_name" if "Unknown model" in str(error) else "model"
        return [f"{field}: {error}"]
    size = config.input.image_size
    if size < module.min_size:
        return [
            f"input.image_size={size} is below {config.model_name}'s minimum of {module.min_size}; "
            f"use {module.min_size} or larger."
        ]
    return []


def _schedule_problems(config) -> list[str]:
    problems = []
    steps, epochs = config.get("total_steps") or 0, config.get("total_epochs") or 0
    if (steps > 0) == (epochs > 0):
        both = "both are set" if steps > 0 else "neither is set"
        problems.append(
            f"total_steps={steps}, total_epochs={epochs}: set exactly one ({both}); e.g. "
            f"--config.total_steps={steps or 1000} --config.total_epochs=0, or --config.total_steps=0 "
            f"--config.total_epochs={epochs or 100}."
        )
    if steps < 0 or epochs < 0:
        problems.append(f"total_steps={steps}, total_epochs={epochs}: must not be negative.")
    rate = config.schedule.base_learning_rate
    if not rate > 0:
        problems.append(f"schedule.base_learning_rate={rate} must be positive, e.g. 0.045 (the paper's).")
    for field in ("log_every_steps", "eval_every_steps", "checkpoint_every_steps"):
        if config[field] <= 0:
            problems.append(f"{field}={config[field]} must be positive, e.g. 100.")
    return problems


def _multiple(value: int, of: int) -> int:
    """The multiple of `of` nearest to `value`, at least `of`."""
    return max(1, round(value / of)) * of


def _batch_problems(config, num_devices: int) -> list[str]:
    problems = []
    for field in ("batch_size", "eval_batch_size"):
        value = config.input[field]
        if value <= 0 or value % num_devices:
            problems.append(
                f"input.{field}={value} must be a positive multiple of the {num_devices} devices; "
                f"use {_multiple(value, num_devices)}."
            )
    shards, processes = config.input.get("data_shards", 0), jax.process_count()
    if shards < 0 or shards % processes or (shards and config.input.batch_size % shards):
        problems.append(
            f"input.data_shards={shards} must be a multiple of the {processes} processes that divides "
            f"input.batch_size={config.input.batch_size}; use 0 (one per process) or {processes}."
        )
    accumulation = config.get("grad_accum_steps", 1)
    unit = accumulation * num_devices  # each micro-batch splits evenly over the devices
    if accumulation < 1:
        problems.append(f"grad_accum_steps={accumulation} must be at least 1 (1: no accumulation).")
    elif accumulation > 1 and config.input.batch_size % num_devices == 0 and config.input.batch_size % unit:
        per_device = config.input.batch_size // num_devices
        fits = max(k for k in range(1, accumulation + 1) if per_device % k == 0)
        problems.append(
            f"grad_accum_steps={accumulation} must split input.batch_size={config.input.batch_size} into "
            f"micro-batches that are multiples of the {num_devices} devices; use input.batch_size="
            f"{_multiple(config.input.batch_size, unit)}, or grad_accum_steps={fits}."
        )
    return problems


def _input_problems(cfg) -> list[str]:
    problems = []
    if cfg.dataset == "folder" and not (cfg.folder and os.path.isdir(cfg.folder)):
        problems.append(
            f"input.folder={cfg.folder!r} is not a directory; dataset='folder' needs one laid out as "
            "<folder>/<split>/<class>/<image>.jpg."
        )
    # data_dir may be new (TFDS prepares datasets into it); manual_dir must already hold the downloaded files.
    path = cfg.get("manual_dir")
    if path and "://" not in path and not os.path.isdir(path):  # gs:// and other remote paths pass
        problems.append(
            f"input.manual_dir={path!r} is not a directory; point it at the dataset's downloaded files "
            "(imagenet2012: ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar), or leave it unset."
        )
    return problems


def _split_problems(config, info: pipeline.DatasetInfo) -> list[str]:
    batch = config.input.batch_size
    if info.num_train_examples < batch:
        return [
            f"input.batch_size={batch} exceeds the {info.num_train_examples} training examples of "
            f"{config.input.dataset!r}; use at most {info.num_train_examples}."
        ]
    return []


# Fields a resumed run may change: they leave the trajectory (batches, dropout, schedule, weights) as it was.
# Bookkeeping, evaluation, where the data or the starting weights lie, and the run's length (no schedule depends
# on it, so a longer run continues a shorter one exactly).
RESUMABLE_CHANGES = (
    "total_steps",
    "total_epochs",
    "log_every_steps",
    "eval_every_steps",
    "checkpoint_every_steps",
    "keep_checkpoints",
    "init_from",
    "input.data_dir",
    "input.manual_dir",
    "input.folder",
    "input.prefetch_batches",
    "input.eval_batch_size",
    "input.eval_split",
    "input.eval_crop_fraction",
    "input.eval_crop_mode",
    "input.eval_interpolation",
)


class ConfigChangedError(ValueError):
    """A rerun's config differs from the one its checkpoint was written with, in fields that change the run."""


def trajectory_changes(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict) -> list[str]:
    """`FIELD: OLD → NEW` for each field of both configs that differs, except `RESUMABLE_CHANGES`.

    Fields only one of them has (a config of an older release) are not compared.
    """
    old, new = _flat(saved.to_dict()), _flat(config.to_dict())
    return [
        f"{field}: {old[field]!r} → {new[field]!r}"
        for field in sorted(old.keys() & new.keys())
        if field not in RESUMABLE_CHANGES and _as_tuples(old[field]) != _as_tuples(new[field])
    ]


def check_resume(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict, allow_changes: bool) -> None:
    """Raises `ConfigChangedError` listing `trajectory_changes`, unless `allow_changes` (then they are logged)."""
    changes = trajectory_changes(saved, config)
    if not changes:
        return
    listed = "\n  ".join(changes)
    if allow_changes:
        logging.warning("Resuming with a config that differs from the checkpoint's (allowed):\n  %s", listed)
        return
    raise ConfigChangedError(
        f"The run's checkpoints were written with another config, in {len(changes)} field(s) that change what it "
        f"computes (a resumed run would match neither config):\n  {listed}\n"
        "Rerun with the saved values, use a fresh --workdir, or pass --allow_config_change (from Python: "
        "train_and_evaluate(..., allow_config_change=True)) to go on with the new ones."
    )


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _as_tuples(value):
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list | tuple) else value
