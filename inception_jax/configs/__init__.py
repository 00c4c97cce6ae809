"""Experiment configs that install with the package: `--config=inception_jax:NAME[:ARG]` on every command line.

    paper          the paper's recipe, every field written out (Inception-v4 on ImageNet)
    inception_v3, inception_v4, inception_resnet_v1, inception_resnet_v2, inception_resnet_v2_paper,
    bn_inception   each network on ImageNet: paper.py with only what differs
    lineage        the networks before Inception-v3, each with its own paper's recipe (ARG: model=NAME)
    default        the embedded default: reduced Inception-ResNet-v2 on the digits (digits.py's helpers)
    zfnet_digits   the ZFNet that notebooks/deconvnet.ipynb visualizes

A config file is a module with `get_config(arg=None)`, as ml_collections' `config_flags` expects; files outside
the package (the experiments') are given by path as usual.
"""

from __future__ import annotations

import difflib
import importlib
import os
import warnings

import ml_collections

PREFIX = "inception_jax:"
CONFIGS = (
    "paper",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v1",
    "inception_resnet_v2",
    "inception_resnet_v2_paper",
    "bn_inception",
    "lineage",
    "default",
    "zfnet_digits",
)
# Fields that moved, and where to: still read for one release, with a warning.
MOVED_FIELDS = {
    "optimizer.label_smoothing": "loss.label_smoothing",
    "optimizer.aux_loss_weight": "loss.aux_loss_weight",
    "optimizer.ema_decay": "ema.decay",
}


def config_path(name: str) -> str:
    """The file of the packaged config `name`; the error lists the names."""
    if name not in CONFIGS:
        close = difflib.get_close_matches(name, CONFIGS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"No packaged config {name!r}.{hint} Choose one of {', '.join(CONFIGS)}, or give a config file's path."
        )
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")


def resolve(value: str) -> str:
    """`inception_jax:NAME[:ARG]` → `PATH/NAME.py[:ARG]`, the form `config_flags` reads; paths pass through."""
    if not value.startswith(PREFIX):
        return value
    name, separator, arg = value[len(PREFIX) :].partition(":")
    return config_path(name) + separator + arg


def get_config(name: str, arg: str | None = None) -> ml_collections.ConfigDict:
    """The packaged config `name` with its `arg`, e.g. `get_config("lineage", "model=resnet50")`."""
    config_path(name)  # the error lists the valid names
    return importlib.import_module(f"inception_jax.configs.{name}").get_config(arg)


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
    """A config argument `key=value,key=value` over `defaults` (values take the defaults' types)."""
    values = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        key, _, value = item.partition("=")
        if key not in defaults:
            raise ValueError(f"Unknown config argument {key!r}; valid: {', '.join(defaults)}.")
        kind = type(defaults[key])
        values[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return ml_collections.ConfigDict(values)


def resolve_moved_fields(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Copies each set field of `MOVED_FIELDS` to its new place, warning with the new name; returns `config`."""
    for old, new in MOVED_FIELDS.items():
        section, field = old.split(".")
        value = config.get(section, {}).get(field)
        if value is None:
            continue
        warnings.warn(
            f"config.{old} is deprecated and will be removed in the next release; set config.{new} "
            f"(--config.{new}={value}).",
            FutureWarning,
            stacklevel=2,
        )
        new_section, new_field = new.split(".")
        with config.unlocked():
            if new_section not in config:
                config[new_section] = ml_collections.ConfigDict()
            config[new_section][new_field] = value
            config[section][field] = None
    return config
