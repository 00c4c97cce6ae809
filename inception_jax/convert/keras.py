"""Keras 3 applications → inception_jax: `from_keras` converts `InceptionV3` and `InceptionResNetV2`.

Keras names most layers by a global counter (`conv2d_57`), so layers are matched by graph structure instead:
walking the model back from its output, visiting each layer's inputs in order and listing a layer after its
inputs, meets the conv layers in the order the Flax network runs them (a concatenation's inputs are its branches
in order; a residual sum's are the shortcut, then the projection). Keras stores kernels as HWIO and dense
kernels as (in, out), like Flax, so arrays are copied unchanged.

The module is built to reproduce Keras: BatchNorm as the Keras layers have it (no γ, ε 1e-3, momentum 0.99),
TF average pools that exclude padding, no aux head and no dropout. Its output is the logits: a Keras model built
with the default `classifier_activation="softmax"` returns their softmax.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from inception_jax.convert.mismatch import WeightMismatchError
from inception_jax.convert.weight_layers import WeightLayer, to_variables, weight_layers
from inception_jax.models import create_model
from inception_jax.spec import INCEPTION_INPUT, ModelSpec

# The keras.applications constructor of each supported network.
_APPLICATIONS = {"inception_v3": "InceptionV3", "inception_resnet_v2": "InceptionResNetV2"}
# Problems listed in a mismatch error; the count always covers all of them.
_SHOWN = 4


@dataclasses.dataclass(frozen=True)
class KerasLayer:
    """One Keras layer with weights, with the BatchNormalization that follows it (kind "conv_bn")."""

    kind: str
    layer: object
    bn: object = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The layer's arrays by Flax field name."""
        import keras  # noqa: PLC0415  (TensorFlow only when converting Keras weights)

        values = {"kernel": self.layer.kernel}
        if self.bn is None:
            values["bias"] = self.layer.bias
        else:
            if self.bn.scale:
                values["scale"] = self.bn.gamma
            values.update(bias=self.bn.beta, mean=self.bn.moving_mean, var=self.bn.moving_variance)
        return {field: keras.ops.convert_to_numpy(value) for field, value in values.items()}


def from_keras(model_name: str, source, input_overrides=None):
    """Builds the Flax network equivalent to a Keras application and converts its weights.

    Args:
      model_name: "inception_v3" or "inception_resnet_v2".
      source: a Keras 3 `InceptionV3`/`InceptionResNetV2` model, or a path to its weights file (`.weights.h5`,
        or a legacy `.h5`), loaded into the application built with `weights=None`. The class count comes from
        the classifier; a model without one (`include_top=False`) converts with `num_classes=0`.
      input_overrides: InputSpec fields that replace the Keras applications' input (`INCEPTION_INPUT`: central
        87.5%, bilinear to 299², [-1, 1]).

    Returns:
      `(module, variables, spec)`; `module.apply(variables, images)` gives the Keras model's logits.

    Raises:
      WeightMismatchError: the model's layers do not fit `model_name` (the first differences are named).
    """
    if model_name not in _APPLICATIONS:
        raise ValueError(f"Keras has no application for {model_name!r}; supported: {', '.join(_APPLICATIONS)}.")
    model = load_keras_model(model_name, source) if isinstance(source, (str, os.PathLike)) else source
    keras_layers = keras_weight_layers(model)
    module = create_model(model_name, **keras_options(keras_layers))
    flax_layers = weight_layers(module)
    arrays = [layer.arrays() for layer in keras_layers]
    _check_structure(model_name, model, keras_layers, arrays, flax_layers)
    spec = ModelSpec.of_module(model_name, module, INCEPTION_INPUT.replace(**(input_overrides or {})))
    return module, to_variables(flax_layers, arrays), spec


def load_keras_model(model_name: str, path: str | os.PathLike):
    """Builds the Keras application for `model_name` without weights and loads the weights file at `path`."""
    try:
        import keras  # noqa: PLC0415  (TensorFlow only when converting Keras weights)
    except ImportError as error:
        raise ImportError("Reading Keras weights files needs Keras 3: pip install keras tensorflow-cpu") from error

    path = os.fspath(path)
    classes = _classifier_size(path)
    build = getattr(keras.applications, _APPLICATIONS[model_name])
    model = build(weights=None, include_top=classes is not None, classes=classes or 1000, classifier_activation=None)
    try:
        model.load_weights(path)
    except OSError as error:  # the file damaged past the part _classifier_size read
        raise ValueError(f"Cannot read {path}: it is damaged ({error}). Nothing was converted.") from None
    except ValueError as error:
        raise WeightMismatchError(
            f"{path} does not hold weights of Keras's {_APPLICATIONS[model_name]}: {error}"
        ) from error
    return model


def _classifier_size(path: str) -> int | None:
    """The class count of the weights file's classifier: its only 2-D array is the dense kernel (in, classes)."""
    import h5py  # noqa: PLC0415  (an optional dependency of the Keras converter)

    shapes = []
    try:
        with h5py.File(path, "r") as weights:
            weights.visititems(
                lambda _, item: shapes.append(item.shape) if isinstance(item, h5py.Dataset) and item.ndim == 2 else None
            )
    except OSError as error:  # h5py: "Unable to open file (truncated file ...)", "file signature not found"
        raise ValueError(
            f"Cannot read {path}: it is not an HDF5 (.h5) weights file, or it is damaged ({error})."
        ) from None
    if len(shapes) > 1:
        raise WeightMismatchError(
            f"{path} holds {len(shapes)} dense kernels {shapes}; Keras's Inception "
            "applications have one classifier. Pass a weights file of one of them."
        )
    return shapes[0][1] if shapes else None


def keras_weight_layers(model) -> list[KerasLayer]:
    """The model's conv and dense layers in the order the Flax network runs its layers, each with its BN."""
    import keras  # noqa: PLC0415  (TensorFlow only when converting Keras weights)

    order = _run_order(model)
    weighted = []
    for layer, following in zip(order, order[1:] + [None]):
        if isinstance(layer, keras.layers.Conv2D):
            # A BatchNormalization is listed right after the conv it normalizes.
            has_bn = isinstance(following, keras.layers.BatchNormalization) and following.input is layer.output
            weighted.append(KerasLayer("conv_bn", layer, following) if has_bn else KerasLayer("conv", layer))
        elif isinstance(layer, keras.layers.Dense):
            weighted.append(KerasLayer("dense", layer))
    return weighted


def _run_order(model) -> list:
    """Every layer of `model` after all of its inputs, inputs visited in order (depth first, from the output)."""
    producers = {id(layer.output): layer for layer in model.layers}

    def inputs(layer) -> list:
        tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        return [producers[id(tensor)] for tensor in tensors]

    order, seen = [], set()
    stack = [(producers[id(model.output)], False)]  # (layer, its inputs already listed)
    while stack:
        layer, expanded = stack.pop()
        if expanded:
            order.append(layer)
        elif id(layer) not in seen:
            seen.add(id(layer))
            stack.append((layer, True))
            stack.extend((parent, False) for parent in reversed(inputs(layer)) if id(parent) not in seen)
    return order


def keras_options(keras_layers: list[KerasLayer]) -> dict:
    """The `create_model` options that make the network compute what the Keras model does."""
    bn_settings = {
        (bool(layer.bn.scale), float(layer.bn.epsilon), float(layer.bn.momentum))
        for layer in keras_layers
        if layer.bn is not None
    }
    if len(bn_settings) != 1:
        raise WeightMismatchError(
            "The Keras model's BatchNormalization layers must share one (scale, epsilon, "
            f"momentum); found {sorted(bn_settings) or 'no BatchNormalization'}. Pass "
            f"an application of {', '.join(_APPLICATIONS.values())}."
        )
    ((use_scale, epsilon, momentum),) = bn_settings
    dense = [layer.layer for layer in keras_layers if layer.kind == "dense"]
    # Keras's momentum is, like Flax's, the decay of the moving averages.
    return dict(
        num_classes=dense[0].units if dense else 0,
        bn_use_scale=use_scale,
        bn_epsilon=epsilon,
        bn_momentum=momentum,
        dropout_rate=0.0,
        aux_head=False,
        avg_pool_count_include_pad=False,
    )


def _check_structure(
    model_name: str,
    model,
    keras_layers: list[KerasLayer],
    arrays: list[dict[str, np.ndarray]],
    flax_layers: list[WeightLayer],
) -> None:
    """Raises `WeightMismatchError` unless the Keras and Flax layer lists agree in length, kinds and shapes."""
    problems = []
    for source, source_arrays, target in zip(keras_layers, arrays, flax_layers):
        shapes = {field: value.shape for field, value in source_arrays.items()}
        if source.kind != target.kind or shapes != target.shapes:
            problems.append(
                f"{source.layer.name} ({source.kind}, kernel {shapes['kernel']}) where {target.name} "
                f"needs {target.kind}, kernel {target.shapes['kernel']}"
            )
    if not problems and len(keras_layers) == len(flax_layers):
        return
    shown = "; ".join(problems[:_SHOWN]) + ("; …" if len(problems) > _SHOWN else "")
    hint = (
        f" The Keras model is named {model.name!r}: call from_keras({model.name!r}, ...)."
        if model.name in _APPLICATIONS and model.name != model_name
        else ""
    )
    raise WeightMismatchError(
        f"The Keras model {model.name!r} does not fit {model_name}: it has {len(keras_layers)} weight layers where "
        f"{len(flax_layers)} are needed, and {len(problems)} of the layers paired in order differ ({shown}). "
        f"Nothing was converted.{hint}"
    )
