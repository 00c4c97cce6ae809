"""The plain values that describe a network and its input: `InputSpec`, `ModelSpec`, and their exact JSON.

    spec = ModelSpec.of_module("inception_v3", module, InputSpec(image_size=299))
    spec.write("weights/v3")                  # weights/v3/spec.json
    spec = read_spec("weights/v3")
    module = spec.build()
    images = spec.input.normalize(pixels)     # pixels in [0, 1]

A spec says which registered network, with every `create_model` option, and how its evaluation images are
prepared. The input pipeline, the converters, evaluation, FID and the command-line tools read it; saving and
restoring weights and runs is `inception_jax.artifacts`'s job. This module imports the models, numpy and
ml_collections only, so importing it loads no Orbax, optax or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from inception_jax.models import create_model, get_model_class

SPEC_FILE = "spec.json"
_LEGACY_SPEC_FILE = "model.json"  # Weights written before input specs existed.

CROP_MODES = ("central_fraction", "resize_shorter")
INTERPOLATIONS = ("bilinear", "bicubic")
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)  # [0, 1] → [-1, 1], as timm's pretrained_cfg writes it.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------------------- input contract


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How a network's weights expect an evaluation image to be prepared.

    Attributes:
      image_size: side of the square network input.
      crop_fraction: the share of the image the evaluation crop keeps.
      crop_mode: "central_fraction", slim's and Keras's TensorFlow ops: keep the central `crop_fraction` of each
        side (the aspect ratio is not kept) and resize to `image_size`² without antialiasing;
        "resize_shorter", timm's and torchvision's PIL transforms: resize (antialiased) so that the shorter side
        is ⌊image_size / crop_fraction⌋, then take the central `image_size`² crop.
      interpolation: "bilinear" or "bicubic".
      mean, std: per-channel normalisation of pixels in [0, 1]; mean = std = 0.5 is the Inception range [-1, 1].
    """

    image_size: int = 299
    crop_fraction: float = 0.875
    crop_mode: str = "central_fraction"
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = INCEPTION_MEAN
    std: tuple[float, float, float] = INCEPTION_STD

    def __post_init__(self):
        def fail(field: str, value, valid: str):
            raise ValueError(f"InputSpec {field}={value!r} is invalid; {valid}.")

        if not (isinstance(self.image_size, (int, np.integer)) and self.image_size > 0):
            fail("image_size", self.image_size, "give a positive integer such as 299")
        if not 0.0 < self.crop_fraction <= 1.0:
            fail("crop_fraction", self.crop_fraction, "give a fraction in (0, 1], e.g. 0.875")
        if self.crop_mode not in CROP_MODES:
            fail("crop_mode", self.crop_mode, f"choose one of {', '.join(CROP_MODES)}")
        if self.interpolation not in INTERPOLATIONS:
            fail("interpolation", self.interpolation, f"choose one of {', '.join(INTERPOLATIONS)}")
        for field in ("mean", "std"):
            values = getattr(self, field)
            if len(values) != 3 or (field == "std" and min(values) <= 0):
                fail(field, values, "give three per-channel values (RGB), std positive")
            object.__setattr__(self, field, tuple(float(v) for v in values))
        object.__setattr__(self, "image_size", int(self.image_size))
        object.__setattr__(self, "crop_fraction", float(self.crop_fraction))

    def replace(self, **changes) -> InputSpec:
        """A copy with the given fields changed; None leaves a field as it is (unset overrides)."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})

    def normalize(self, pixels):
        """Pixels in [0, 1] (numpy or JAX, channels last) as the network's input."""
        return (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    @property
    def resize_side(self) -> int:
        """ "resize_shorter": the shorter side before the centre crop (timm's ⌊size / crop_pct⌋)."""
        return math.floor(self.image_size / self.crop_fraction)


# The input contracts of the sources this library converts from (timm's are per weight, in convert/timm.py).
INCEPTION_INPUT = InputSpec()  # slim and Keras: central 87.5%, bilinear, [-1, 1].
TORCHVISION_INPUT = InputSpec(image_size=224, crop_mode="resize_shorter", mean=IMAGENET_MEAN, std=IMAGENET_STD)

# Fields of an experiment config's `input` that set the input contract, and the InputSpec field each one sets.
# Unset (None) fields fall back to the pretrained weights' spec (init_from), then to INCEPTION_INPUT.
CONFIG_INPUT_FIELDS = {
    "eval_crop_fraction": "crop_fraction",
    "eval_crop_mode": "crop_mode",
    "eval_interpolation": "interpolation",
    "mean": "mean",
    "std": "std",
}


def input_overrides(input_config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The InputSpec fields an experiment config's `input` sets explicitly (image size aside)."""
    return {
        spec_field: input_config.get(field)
        for field, spec_field in CONFIG_INPUT_FIELDS.items()
        if input_config.get(field) is not None
    }


def input_spec_from_config(
    input_config: ml_collections.ConfigDict, weights_input: InputSpec | None = None
) -> InputSpec:
    """The input contract a training run uses: the config's explicit fields over the weights' (init_from) ones.

    A config that sets a normalisation contradicting the weights' raises a ValueError naming both values:
    fine-tuning must see the pixels the weights were trained on.
    """
    explicit = input_overrides(input_config)
    if weights_input is not None:
        for field in ("mean", "std"):
            if field in explicit and tuple(map(float, explicit[field])) != getattr(weights_input, field):
                raise ValueError(
                    f"input.{field}={tuple(explicit[field])} contradicts the pretrained weights' {field} "
                    f"{getattr(weights_input, field)} (init_from): the weights expect the latter. Remove "
                    f"--config.input.{field}, or set it to {getattr(weights_input, field)}."
                )
    base = weights_input or INCEPTION_INPUT
    return base.replace(image_size=input_config.image_size, **explicit)


# ---------------------------------------------------------------------------------------------- model spec


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What rebuilds a network and feeds it: its registry name, every `create_model` option, its input.

    `options` holds every option with its exact Python type (tuples stay tuples, dtypes stay dtypes), so a spec
    read back from `spec.json` builds the same module, whatever later versions change in the defaults.
    """

    model_name: str
    options: Mapping[str, Any]
    input: InputSpec = INCEPTION_INPUT

    @classmethod
    def of_module(cls, model_name: str, module: nn.Module, input: InputSpec = INCEPTION_INPUT) -> ModelSpec:  # noqa: A002
        """The spec of `module`, a network registered as `model_name`, with all of its options."""
        if not isinstance(module, get_model_class(model_name)):
            raise ValueError(f"{type(module).__name__} is not the network registered as {model_name!r}.")
        options = {
            field.name: getattr(module, field.name)
            for field in dataclasses.fields(module)
            if field.init and field.name not in ("parent", "name")
        }
        return cls(model_name, options, input)

    @property
    def num_classes(self) -> int:
        return self.options.get("num_classes", get_model_class(self.model_name).num_classes)

    def build(self) -> nn.Module:
        """The Flax module this spec describes."""
        return create_model(self.model_name, **self.options)

    def to_json(self) -> str:
        # InputSpec's fields have fixed types, so its JSON needs no type tags.
        record = {
            "model_name": self.model_name,
            "options": encode(dict(self.options)),
            "input": dataclasses.asdict(self.input),
        }
        return json.dumps(record, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        record = json.loads(text)
        return cls(record["model_name"], decode(record["options"]), InputSpec(**record["input"]))

    def write(self, directory: str) -> None:
        """Writes `directory/spec.json` (on process 0 only)."""
        if jax.process_index() == 0:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, SPEC_FILE), "w") as f:
                f.write(self.to_json())


def read_spec(directory: str) -> ModelSpec:
    """The spec saved in `directory` (converted weights or a training run)."""
    path = os.path.join(directory, SPEC_FILE)
    if os.path.exists(path):
        with open(path) as f:
            return ModelSpec.from_json(f.read())
    legacy = os.path.join(directory, _LEGACY_SPEC_FILE)
    if os.path.exists(legacy):
        with open(legacy) as f:
            record = json.load(f)
        logging.warning(
            "%s predates input specs: assuming the Inception input (%s). Convert the weights again to "
            "record their own.",
            directory,
            INCEPTION_INPUT,
        )
        return ModelSpec(record["model_name"], decode(record["model_options"]), INCEPTION_INPUT)
    raise FileNotFoundError(
        f"{directory} holds no {SPEC_FILE}: pass a directory written by "
        f"`python -m inception_jax.convert ... --output DIR` or a training --workdir."
    )


def model_spec_from_config(
    config: ml_collections.ConfigDict, num_classes: int, weights: ModelSpec | None = None
) -> ModelSpec:
    """The network and input contract an experiment config trains, for a dataset of `num_classes`.

    With pretrained `weights` (init_from) the network starts from the weights' options and input contract;
    the config's `model` and `input` fields override them (a contradicting normalisation is an error).
    """
    options = dict(weights.options) if weights is not None else {}
    if weights is not None and weights.model_name != config.model_name:
        raise ValueError(
            f"init_from holds {weights.model_name} weights but model_name={config.model_name!r}; "
            f"set --config.model_name={weights.model_name}."
        )
    options.update(config.get("model", {}))
    options["num_classes"] = num_classes
    module = create_model(config.model_name, **options)
    if config.input.image_size < module.min_size:
        raise ValueError(
            f"input.image_size={config.input.image_size} is below {config.model_name}'s minimum of "
            f"{module.min_size}; set --config.input.image_size={module.min_size} or larger."
        )
    input_spec = input_spec_from_config(config.input, weights.input if weights is not None else None)
    return ModelSpec.of_module(config.model_name, module, input_spec)


# ---------------------------------------------------------------------------------------------- exact JSON


def encode(value):
    """JSON-able form of option and config values in which tuples, lists and dtypes keep their types."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode(item) for item in value]}
    if isinstance(value, list):
        return {"__list__": [encode(item) for item in value]}
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.generic,)):
        return value.item()
    try:
        return {"__dtype__": jnp.dtype(value).name}
    except TypeError:
        raise TypeError(
            f"Cannot save {value!r} ({type(value).__name__}) in a spec or config: use numbers, "
            f"strings, tuples, lists, dicts or dtypes."
        ) from None


def decode(value):
    """Inverse of `encode`. Untagged lists (configs saved before tagging) come back as tuples, as configs use."""
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(item) for item in value["__tuple__"])
        if set(value) == {"__list__"}:
            return [decode(item) for item in value["__list__"]]
        if set(value) == {"__dtype__"}:
            return getattr(jnp, value["__dtype__"])
        return {key: decode(item) for key, item in value.items()}
    return value
