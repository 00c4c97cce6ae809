"""Keras 3 applications → Flax: live comparison of logits with random weights, and the weights-file path."""

import jax
import numpy as np
import pytest
from fixtures.keras_weights import MEASURED, keras_logits, random_keras_model
from fixtures.timm_weights import images
from parity import assert_max_abs

from inception_jax.convert import WeightMismatchError, from_keras

NETWORKS = ("inception_v3", "inception_resnet_v2")
# Keras's TensorFlow backend reads variables with np.array(tf.Variable), which NumPy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def keras_models():
    return {name: random_keras_model(name) for name in NETWORKS}


@pytest.mark.parametrize("name", NETWORKS)
def test_logits_equal_keras(name, keras_models):
    model = keras_models[name]
    module, variables, _ = from_keras(name, model)
    assert (module.bn_use_scale, module.bn_epsilon, module.bn_momentum) == (False, 1e-3, 0.99)
    assert (module.num_classes, module.aux_head, module.dropout_rate) == (1000, False, 0.0)
    logits = jax.jit(module.apply)(variables, images())
    assert_max_abs(f"{name} against Keras", logits, keras_logits(model, images()), MEASURED[name])


def test_weights_file_converts_like_the_model(keras_models, tmp_path):
    path = tmp_path / "model.weights.h5"
    keras_models["inception_v3"].save_weights(path)
    module, from_file, _ = from_keras("inception_v3", path)
    _, from_model, _ = from_keras("inception_v3", keras_models["inception_v3"])
    assert module.num_classes == 1000
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_model))


def test_another_network_is_refused_and_named(keras_models):
    with pytest.raises(
        WeightMismatchError,
        match=r"95 weight layers where 245 are needed.*"
        r"from_keras\('inception_v3'",
    ):
        from_keras("inception_resnet_v2", keras_models["inception_v3"])


def test_a_legacy_h5_file_and_an_include_top_false_file_convert_like_their_models(keras_models, tmp_path):
    """Keras 2's `.h5` layout (what `keras.applications` downloads) and a file without the classifier."""
    import h5py  # noqa: PLC0415
    import keras  # noqa: PLC0415
    from keras.src.legacy.saving import legacy_h5_format  # noqa: PLC0415

    model = keras_models["inception_v3"]
    with h5py.File(tmp_path / "legacy.h5", "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)
    module, from_file, _ = from_keras("inception_v3", tmp_path / "legacy.h5")
    _, from_model, _ = from_keras("inception_v3", model)
    assert module.num_classes == 1000
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_model))

    notop = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=model.input_shape[1:])
    trunk_layers = [layer for layer in model.layers if layer.weights][:-1]  # all but the classifier, in order
    for layer, source in zip([layer for layer in notop.layers if layer.weights], trunk_layers, strict=True):
        layer.set_weights(source.get_weights())
    notop.save_weights(tmp_path / "notop.weights.h5")
    module, from_file, _ = from_keras("inception_v3", tmp_path / "notop.weights.h5")
    _, from_notop, _ = from_keras("inception_v3", notop)
    assert module.num_classes == 0 and "Logits" not in from_file["params"]
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_notop))
    for name, trunk in from_file["params"].items():  # and the trunk is the full model's
        assert jax.tree.all(jax.tree.map(np.array_equal, trunk, from_model["params"][name])), name
