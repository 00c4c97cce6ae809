"""Weights on the Hugging Face hub in timm's layout: `model.safetensors` and `config.json` (`architecture`,
`num_classes`, `pretrained_cfg`), fetched with `huggingface_hub.hf_hub_download`.

Files land in the hub's cache (or `cache_dir`). `HF_ENDPOINT` and `HF_HUB_OFFLINE` are read at each call
(huggingface_hub itself reads them once, when it is imported).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Mapping

from inception_jax.convert.timm import from_timm
from inception_jax.pretrained.download import offline
from inception_jax.spec import InputSpec

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# timm's crop modes → InputSpec's (timm's "center": shorter side to ⌊size / crop_pct⌋, then the central crop).
_CROP_MODES = {"center": "resize_shorter"}


def hub_file(repo_id: str, filename: str, cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """`filename` of the hub repository `repo_id`, from the cache or downloaded."""
    from huggingface_hub import hf_hub_download  # noqa: PLC0415 (reads HF_* settings when imported; ~0.5 s)

    endpoint = os.environ.get("HF_ENDPOINT") or None
    return pathlib.Path(
        hf_hub_download(
            repo_id,
            filename,
            cache_dir=cache_dir,
            local_files_only=offline(),
            endpoint=endpoint.rstrip("/") if endpoint else None,
        )
    )


def read_config(repo_id: str, cache_dir: str | os.PathLike | None = None) -> dict:
    return json.loads(hub_file(repo_id, CONFIG_FILE, cache_dir).read_text())


def input_spec(pretrained_cfg: Mapping) -> InputSpec:
    """The InputSpec a timm `pretrained_cfg` states (input_size, crop_pct, crop_mode, interpolation, mean, std)."""
    _, height, width = pretrained_cfg.get("input_size", (3, 299, 299))
    if height != width:
        raise ValueError(f"pretrained_cfg input_size {pretrained_cfg['input_size']} is not square.")
    crop_mode = pretrained_cfg.get("crop_mode", "center")
    if crop_mode not in _CROP_MODES:
        raise ValueError(f"timm crop_mode {crop_mode!r} has no InputSpec counterpart; known: {', '.join(_CROP_MODES)}.")
    defaults = InputSpec()
    return InputSpec(
        image_size=int(height),
        crop_fraction=float(pretrained_cfg.get("crop_pct", defaults.crop_fraction)),
        crop_mode=_CROP_MODES[crop_mode],
        interpolation=pretrained_cfg.get("interpolation", defaults.interpolation),
        mean=tuple(pretrained_cfg.get("mean", defaults.mean)),
        std=tuple(pretrained_cfg.get("std", defaults.std)),
    )


def load_timm_repo(repo_id: str, cache_dir: str | os.PathLike | None = None):
    """`(module, variables, spec)` of any timm-layout repository; the spec's input is its `pretrained_cfg`."""
    config = read_config(repo_id, cache_dir)
    architecture = config["architecture"]
    spec = input_spec(config.get("pretrained_cfg", {}))
    module, variables, model_spec = from_timm(
        architecture.partition(".")[0], hub_file(repo_id, WEIGHTS_FILE, cache_dir), dataclasses.asdict(spec)
    )
    classes = config.get("num_classes")
    if classes is not None and model_spec.num_classes != classes:
        raise ValueError(f"{repo_id}: config.json says {classes} classes, its weights {model_spec.num_classes}.")
    return module, variables, model_spec
