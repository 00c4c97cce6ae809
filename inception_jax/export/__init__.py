"""Exports a network with its weights for serving outside this library, with its input contract beside it.

    spec = inception_jax.export.export("inception_v3.tv_in1k", "exported/", format="stablehlo")
    logits_fn, spec = inception_jax.export.load_stablehlo("exported/")
    logits = logits_fn(images)   # float32 [N, S, S, 3], prepared as spec.input says (predict.prepared_image)

`stablehlo`: `jax.export` of the inference function with the weights inside and a symbolic batch dimension,
lowered for CPU and CUDA, serialized to `model.stablehlo`, and `spec.json` (the network's options and input
contract, as a weights directory holds it). Any JAX of the same or a newer serialization version runs it, without
this library or Flax.

`onnx`: `model.onnx` (opset 18, a symbolic batch dimension) lowered by `onnx_lowering` from the same inference
function, with the spec in its metadata (`inception_jax.spec`, and each input field under its own key), and
`spec.json`; onnxruntime runs it. Needs the `onnx` package (`pip install 'inception_jax[onnx]'`).

`saved_model`: a TensorFlow SavedModel through `jax2tf` (the weights as TF variables) with two signatures:
`logits(images)` on float32 images already prepared, and `classify(encoded)` on encoded image bytes (JPEG, PNG,
...), which decodes and prepares each image inside the graph with this library's own TensorFlow preprocessing for
the weights' spec and returns `logits` and the `top5` class indices; `spec.json` beside it.

The command is `python -m inception_jax.export`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from inception_jax import pretrained
from inception_jax.spec import ModelSpec, read_spec

FORMATS = ("stablehlo", "saved_model", "onnx")
STABLEHLO_FILE = "model.stablehlo"
ONNX_FILE = "model.onnx"
ONNX_SPEC_KEY = "inception_jax.spec"
PLATFORMS = ("cpu", "cuda")


def export(
    weights: str | os.PathLike,
    output: str | os.PathLike,
    format: str = "stablehlo",  # noqa: A002  (the command's --format)
    *,
    cache_dir=None,
) -> ModelSpec:
    """Exports `weights` (a registered weight, a hub repository or a weights directory) to `output` in `format`."""
    if format not in FORMATS:
        raise ValueError(f"format={format!r}: choose one of {', '.join(FORMATS)}.")
    module, variables, spec = pretrained.load_named_or_directory(weights, cache_dir=cache_dir)
    write = {"stablehlo": export_stablehlo, "saved_model": export_saved_model, "onnx": export_onnx}[format]
    return write(module, variables, spec, output)


def export_stablehlo(module, variables, spec: ModelSpec, output: str | os.PathLike) -> ModelSpec:
    """Writes `module` with `variables` as `model.stablehlo` (any batch size) and `spec.json` into `output`."""
    size = spec.input.image_size
    logits = jax.jit(lambda images: module.apply(variables, images, train=False))
    (batch,) = jax.export.symbolic_shape("batch")
    exported = jax.export.export(logits, platforms=PLATFORMS)(jax.ShapeDtypeStruct((batch, size, size, 3), jnp.float32))
    return _write(output, STABLEHLO_FILE, exported.serialize(), spec)


def _write(output: str | os.PathLike, filename: str, content: bytes, spec: ModelSpec) -> ModelSpec:
    """Writes `content` as `output/filename` and the spec as `output/spec.json`."""
    output = os.fspath(output)
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, filename), "wb") as file:
        file.write(content)
    spec.write(output)
    return spec


def load_stablehlo(directory: str | os.PathLike) -> tuple[Callable, ModelSpec]:
    """`(logits_fn, spec)` of an exported directory: `logits_fn(images)` runs the serialized function."""
    path = os.path.join(os.fspath(directory), STABLEHLO_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: export the network there with python -m inception_jax.export.")
    with open(path, "rb") as file:
        exported = jax.export.deserialize(bytearray(file.read()))
    return exported.call, read_spec(os.fspath(directory))


def export_saved_model(module, variables, spec: ModelSpec, output: str | os.PathLike) -> ModelSpec:
    """Writes `module` with `variables` as a TensorFlow SavedModel (signatures `logits` and, for a classifier,
    `classify`) and `spec.json` into `output`."""
    import tensorflow as tf  # noqa: PLC0415  (only this format needs TensorFlow)
    from jax.experimental import jax2tf  # noqa: PLC0415

    from inception_jax.data import preprocessing  # noqa: PLC0415  (TensorFlow's preprocessing)

    size = spec.input.image_size
    apply = jax2tf.convert(
        lambda weights, images: module.apply(weights, images, train=False),
        polymorphic_shapes=[None, f"(batch, {size}, {size}, 3)"],
        native_serialization_platforms=PLATFORMS,
    )
    served = tf.Module()
    served.weights = tf.nest.map_structure(tf.Variable, jax.tree.map(np.asarray, variables))

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")], autograph=False)
    def logits(images):
        return {"logits": apply(served.weights, images)}

    def prepared(encoded):
        return preprocessing.preprocess_for_eval(preprocessing.decode_rgb(encoded), spec.input)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="encoded")], autograph=False)
    def classify(encoded):
        images = tf.map_fn(prepared, encoded, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
        scores = apply(served.weights, images)
        return {"logits": scores, "top5": tf.math.top_k(scores, k=min(5, module.num_classes)).indices}

    served.logits = logits
    signatures = {"logits": logits}
    if module.num_classes:
        served.classify = classify
        signatures["classify"] = classify
    output = os.fspath(output)
    tf.saved_model.save(served, output, signatures=signatures)
    spec.write(output)
    return spec


def export_onnx(module, variables, spec: ModelSpec, output: str | os.PathLike) -> ModelSpec:
    """Writes `module` with `variables` as `model.onnx` (input `images`, any batch size; output `logits`), its
    spec in the model's metadata, and `spec.json` into `output`."""
    try:
        from inception_jax.export import onnx_lowering  # noqa: PLC0415  (the onnx package is an optional extra)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"--format=onnx needs the onnx package ({error.name} is missing): pip install 'inception_jax[onnx]'."
        ) from error
    size = spec.input.image_size
    metadata = {ONNX_SPEC_KEY: spec.to_json(), "model_name": spec.model_name}
    metadata.update({key: json.dumps(value) for key, value in dataclasses.asdict(spec.input).items()})
    model = onnx_lowering.to_onnx(
        lambda images: module.apply(variables, images, train=False), (size, size, 3), metadata=metadata
    )
    return _write(output, ONNX_FILE, model.SerializeToString(), spec)


def read_onnx_spec(path: str | os.PathLike) -> ModelSpec:
    """The spec stored in the metadata of an exported `model.onnx` (or of the directory holding it)."""
    import onnx  # noqa: PLC0415

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, ONNX_FILE)
    metadata = {prop.key: prop.value for prop in onnx.load(path, load_external_data=False).metadata_props}
    if ONNX_SPEC_KEY not in metadata:
        raise ValueError(f"{path} has no {ONNX_SPEC_KEY!r} metadata: it was not exported by inception_jax.export.")
    return ModelSpec.from_json(metadata[ONNX_SPEC_KEY])
