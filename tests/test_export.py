"""Exported networks run outside Flax (JAX's StableHLO, TensorFlow) and give its logits for any batch size, with
their spec beside them."""

import subprocess
import sys

import jax
import numpy as np
import onnx
import onnxruntime
import pytest
from fixtures import photos
from model_utils import signal_keeping_variables
from train_utils import REPO

import inception_jax
from inception_jax import export, predict
from inception_jax.export import onnx_lowering
from inception_jax.spec import InputSpec, ModelSpec, read_spec
from inception_jax.weights import save_weights

# Relative to the largest logit. Measured 2026-12-06 (JAX 0.10.2, TensorFlow 2.21, onnxruntime 1.32, CPU): StableHLO
# 0 at 75 px and 6.5e-7 at 299; SavedModel up to 2.7e-7, and `classify` on the photos 3.2e-7; ONNX up to 1.8e-6
# (docs/deploy.md).
TOLERANCE = 1e-5


def _weights(tmp_path, name, size, **options):
    module = inception_jax.create_model(name, **options)
    spec = ModelSpec.of_module(name, module, InputSpec(image_size=size, crop_fraction=0.875, mean=(0.5,) * 3))
    variables = signal_keeping_variables(module, size)
    save_weights(str(tmp_path / "weights"), spec, variables)
    return module, variables, spec


def _assert_logits_match(logits_fn, module, variables, size, batches):
    for rows in batches:  # every batch size through the one file
        images = np.random.default_rng(rows).uniform(-1, 1, (rows, size, size, 3)).astype(np.float32)
        flax = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, images))
        ours = np.asarray(logits_fn(images))
        assert ours.shape == flax.shape == (rows, module.num_classes)
        error = float(np.abs(ours - flax).max() / np.abs(flax).max())
        assert error <= TOLERANCE, f"batch {rows}: relative error {error:.1e}"


def test_a_reduced_network_exported_as_stablehlo_gives_flaxs_logits_for_batches_of_1_and_3(tmp_path):
    module, variables, spec = _weights(tmp_path, "inception_v3", 75, num_classes=10, width_multiplier=0.1, min_depth=4)
    assert export.export(tmp_path / "weights", tmp_path / "exported") == spec
    logits_fn, loaded_spec = export.load_stablehlo(tmp_path / "exported")
    assert loaded_spec == spec == read_spec(str(tmp_path / "exported"))  # the input contract, exactly
    _assert_logits_match(logits_fn, module, variables, 75, (1, 3))
    with pytest.raises(ValueError, match="format='tflite': choose one of stablehlo, saved_model, onnx"):
        export.export(tmp_path / "weights", tmp_path / "other", format="tflite")
    with pytest.raises(FileNotFoundError, match="export the network there"):
        export.load_stablehlo(tmp_path / "weights")


def test_the_command_exports_inception_v3_at_299_that_gives_flaxs_logits(tmp_path):
    module, variables, spec = _weights(tmp_path, "inception_v3", 299)
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.export", f"--weights={tmp_path / 'weights'}"]
        + ["--format=stablehlo", f"--output={tmp_path / 'exported'}"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Wrote inception_v3 (stablehlo) to {tmp_path / 'exported'}" in done.stdout
    logits_fn, loaded_spec = export.load_stablehlo(tmp_path / "exported")
    assert loaded_spec == spec
    _assert_logits_match(logits_fn, module, variables, 299, (2,))


def _saved_model_logits(directory):
    """The SavedModel's `logits` signature, loaded once, as a function of numpy images."""
    import tensorflow as tf  # noqa: PLC0415

    signature = tf.saved_model.load(str(directory)).signatures["logits"]
    return lambda images: signature(images=tf.constant(images))["logits"].numpy()


def test_a_saved_model_gives_flaxs_logits_and_classifies_encoded_photos_as_the_evaluation_does(tmp_path):
    import tensorflow as tf  # noqa: PLC0415

    module, variables, spec = _weights(tmp_path, "inception_v3", 75, num_classes=10, width_multiplier=0.1, min_depth=4)
    assert export.export(tmp_path / "weights", tmp_path / "saved", format="saved_model") == spec
    assert read_spec(str(tmp_path / "saved")) == spec
    _assert_logits_match(_saved_model_logits(tmp_path / "saved"), module, variables, 75, (1, 3))

    paths = list(photos.photo_paths().values())  # three JPEGs and three PNGs, at their own sizes
    classified = tf.saved_model.load(str(tmp_path / "saved")).signatures["classify"](
        encoded=tf.constant([path.read_bytes() for path in paths])
    )
    prepared = np.stack([predict.prepared_image(str(path), spec.input) for path in paths])
    expected = np.asarray(jax.jit(lambda x: module.apply(variables, x, train=False))(prepared))
    # The logits tell the photos apart (so a preprocessing difference would show): they spread over 30% of their
    # largest value, where a crop of 1.0 instead of 0.875 moves them by 22% (measured 2026-12-06).
    assert np.abs(expected - expected.mean(axis=0)).max() > 0.1 * np.abs(expected).max()
    error = float(np.abs(classified["logits"].numpy() - expected).max() / np.abs(expected).max())
    assert error <= TOLERANCE, f"classify against the evaluation path: relative error {error:.1e}"
    np.testing.assert_array_equal(classified["top5"].numpy(), np.argsort(-expected, axis=1)[:, :5])


def test_inception_v3_at_299_as_a_saved_model_gives_flaxs_logits(tmp_path):
    module, variables, spec = _weights(tmp_path, "inception_v3", 299)
    export.export(tmp_path / "weights", tmp_path / "saved", format="saved_model")
    _assert_logits_match(_saved_model_logits(tmp_path / "saved"), module, variables, 299, (2,))


def _with_moving_statistics(variables, seed: int = 0):
    """`variables` with BatchNorm moving means and variances away from 0 and 1, so that folding them is tested."""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = jax.tree_util.keystr(path)
        if "'mean'" in name:
            return rng.normal(0.0, 0.1, leaf.shape).astype(leaf.dtype)
        if "'var'" in name:
            return rng.uniform(0.5, 2.0, leaf.shape).astype(leaf.dtype)
        return leaf

    return jax.tree_util.tree_map_with_path(fill, variables)


def _onnx_logits(directory):
    """`model.onnx` of `directory` in an onnxruntime session, as a function of numpy images."""
    session = onnxruntime.InferenceSession(str(directory / export.ONNX_FILE), providers=["CPUExecutionProvider"])
    return lambda images: session.run(["logits"], {"images": images})[0]


def test_a_reduced_network_exported_as_onnx_gives_flaxs_logits_in_onnxruntime_with_its_spec_in_the_metadata(tmp_path):
    module = inception_jax.create_model("inception_v3", num_classes=10, width_multiplier=0.1, min_depth=4)
    spec = ModelSpec.of_module("inception_v3", module, InputSpec(image_size=75, crop_fraction=0.9, mean=(0.4,) * 3))
    variables = _with_moving_statistics(signal_keeping_variables(module, 75))
    save_weights(str(tmp_path / "weights"), spec, variables)
    assert export.export(tmp_path / "weights", tmp_path / "exported", format="onnx") == spec
    _assert_logits_match(_onnx_logits(tmp_path / "exported"), module, variables, 75, (1, 3))
    assert export.read_onnx_spec(tmp_path / "exported") == spec == read_spec(str(tmp_path / "exported"))

    model = onnx.load(str(tmp_path / "exported" / export.ONNX_FILE))
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    # Readable without this library: each input field under its own key, as JSON.
    assert (metadata["image_size"], metadata["crop_fraction"], metadata["mean"]) == ("75", "0.9", "[0.4, 0.4, 0.4]")
    assert (metadata["interpolation"], metadata["model_name"]) == ('"bilinear"', "inception_v3")
    (images,) = model.graph.input
    assert [d.dim_param or d.dim_value for d in images.type.tensor_type.shape.dim] == ["batch", 75, 75, 3]
    onnx.save(onnx.ModelProto(graph=model.graph, opset_import=model.opset_import), tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="was not exported by inception_jax.export"):
        export.read_onnx_spec(tmp_path / "bare.onnx")


def test_inception_v3_at_299_as_onnx_gives_flaxs_logits(tmp_path):
    module, variables, _ = _weights(tmp_path, "inception_v3", 299)
    export.export(tmp_path / "weights", tmp_path / "exported", format="onnx")
    _assert_logits_match(_onnx_logits(tmp_path / "exported"), module, variables, 299, (2,))


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("googlenet", 64),  # local response normalization over channels, ceil-mode max pools
        ("alexnet", 80),  # grouped convolutions, the adaptive average pool's einsum
        ("resnet20", 32),  # the zero-padding shortcut's strided slice and channel padding
    ],
)
def test_the_onnx_lowering_gives_flaxs_logits_for_other_families_layers(name, size):
    module = inception_jax.create_model(name, num_classes=10, width_multiplier=0.25, min_depth=4)
    variables = _with_moving_statistics(signal_keeping_variables(module, size))
    model = onnx_lowering.to_onnx(lambda x: module.apply(variables, x, train=False), (size, size, 3))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _assert_logits_match(lambda x: session.run(None, {"images": x})[0], module, variables, size, (1, 3))


def test_the_onnx_lowering_refuses_a_primitive_it_does_not_lower_by_name():
    with pytest.raises(onnx_lowering.UnsupportedPrimitiveError, match="does not lower `sort`.*as stablehlo"):
        onnx_lowering.to_onnx(lambda x: jax.numpy.sort(x, axis=1), (4, 4, 3))


def test_the_onnx_format_without_the_onnx_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "inception_jax.export.onnx_lowering")
    monkeypatch.delattr(export, "onnx_lowering")
    spec = ModelSpec.of_module("inception_v3", inception_jax.create_model("inception_v3"))
    with pytest.raises(ModuleNotFoundError, match=r"needs the onnx package \(onnx is missing\): pip install 'incep"):
        export.export_onnx(None, None, spec, tmp_path)
