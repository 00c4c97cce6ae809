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
