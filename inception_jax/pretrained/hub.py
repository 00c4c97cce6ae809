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

from inception_jax.convert.timm import TIMM_ARCHITECTURES, from_timm, timm_classifier, timm_options, to_timm
from inception_jax.models import create_model
from inception_jax.pretrained.download import offline
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.weights import load_weights

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# timm's crop modes → InputSpec's. "center": the shorter side to ⌊size / crop_pct⌋, then the central crop;
# "squash": both sides to ⌊size / crop_pct⌋, then the central crop, which is the central crop_pct of each side
# resized to size² (slim's geometry; timm resamples it with PIL's antialiased filters, slim with TF's plain ones).
_CROP_MODES = {"center": "resize_shorter", "squash": "central_fraction"}
# What timm's network takes from the options; the others (dropout, BatchNorm momentum, dtypes, remat, γ written
# as 1 where there is none) change no logits of a trained network in eval mode.
_FUNCTION_OPTIONS = (
    "bn_epsilon",
    "avg_pool_count_include_pad",
    "width_multiplier",
    "min_depth",
    "residual_scales",
    "block_counts",
    "activation",
    "mixed_7c_pool",
)


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


def pretrained_cfg(spec: ModelSpec) -> dict:
    """The timm `pretrained_cfg` stating `spec`'s input contract and classifier."""
    crop_modes = {ours: theirs for theirs, ours in _CROP_MODES.items()}
    return {
        "input_size": [3, spec.input.image_size, spec.input.image_size],
        "interpolation": spec.input.interpolation,
        "crop_pct": spec.input.crop_fraction,
        "crop_mode": crop_modes[spec.input.crop_mode],
        "mean": list(spec.input.mean),
        "std": list(spec.input.std),
        "num_classes": spec.num_classes,
        "classifier": timm_classifier(spec.model_name),
    }


def to_hub(weights_dir: str | os.PathLike, out_dir: str | os.PathLike) -> pathlib.Path:
    """Writes the weights in `weights_dir` (`inception_jax.weights.save_weights`) as a timm hub repository in
    `out_dir`: `model.safetensors` (timm's state_dict) and `config.json` (`architecture`, `num_classes` and the
    `pretrained_cfg` of their input contract). timm loads it with `create_model("local-dir:OUT_DIR",
    pretrained=True)`, or from the hub once uploaded (`huggingface_hub.upload_folder`).

    Raises:
      ValueError: the network is not one of timm's (inception_v3, inception_v4, inception_resnet_v2), or its
        options make it compute something timm's network does not (each named with both values).
    """
    from safetensors.numpy import save_file  # noqa: PLC0415 (only this writer needs it)

    _, variables, spec = load_weights(os.fspath(weights_dir))
    if spec.model_name not in TIMM_ARCHITECTURES:
        raise ValueError(
            f"{weights_dir} holds {spec.model_name} weights; timm has {', '.join(TIMM_ARCHITECTURES)} of this family."
        )
    aux_head = "AuxLogits" in variables["params"]
    timm = create_model(spec.model_name, **timm_options(spec.model_name, spec.num_classes, aux_head))
    differ = {
        option: (spec.options[option], getattr(timm, option))
        for option in _FUNCTION_OPTIONS
        if option in spec.options and spec.options[option] != getattr(timm, option)
    }
    if differ:
        listed = "; ".join(f"{option}={ours!r} (timm: {theirs!r})" for option, (ours, theirs) in differ.items())
        raise ValueError(f"{weights_dir}'s {spec.model_name} computes other logits than timm's: {listed}.")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(to_timm(spec.model_name, variables), str(out / WEIGHTS_FILE))
    config = {"architecture": spec.model_name, "num_classes": spec.num_classes, "pretrained_cfg": pretrained_cfg(spec)}
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return out
