"""The deconvnet projection (Zeiler & Fergus 2013) on a reduced ZFNet with random weights."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_utils import random_variables

from inception_jax import deconvnet
from inception_jax.endpoints import forward_with_endpoints
from inception_jax.models import create_model
from inception_jax.models.layers import ACTIVATIONS, deconvnet_relu

SIZE = 47


@pytest.fixture(scope="module")
def zfnet():
    model = create_model("zfnet", num_classes=10, width_multiplier=0.125)
    images = np.random.default_rng(0).standard_normal((6, SIZE, SIZE, 3)).astype(np.float32)
    return model, random_variables(model, SIZE), images


def test_deconvnet_relu_rectifies_the_signal_where_the_gradient_masks_it():
    x, g = jnp.array([-1.0, 2.0, -3.0, 4.0]), jnp.array([5.0, -6.0, 7.0, 8.0])
    assert np.array_equal(jax.vjp(ACTIVATIONS["relu"], x)[1](g)[0], [0.0, -6.0, 0.0, 8.0])
    assert ACTIVATIONS["deconvnet"] is deconvnet_relu
    assert np.array_equal(jax.vjp(deconvnet_relu, x)[1](g)[0], [5.0, 0.0, 7.0, 8.0])
    assert np.array_equal(deconvnet_relu(x), [0.0, 2.0, 0.0, 4.0])


def test_the_activation_is_a_module_option_that_jit_sees(zfnet):
    """A function jitted on the plain network is not reused for the deconvnet one: the option is in the module."""
    model, variables, images = zfnet
    plain, rectifying = model, model.clone(activation="deconvnet")
    assert plain != rectifying and hash(plain) != hash(rectifying)

    @functools.partial(jax.jit, static_argnums=0)
    def gradient(module, x):
        return jax.grad(lambda x: jnp.sum(forward_with_endpoints(module, variables, x)[1]["conv2"]))(x)

    first = np.asarray(gradient(plain, images[:2]))
    other = np.asarray(gradient(rectifying, images[:2]))
    assert not np.allclose(first, other)  # were the compiled plain function reused, these would be equal
    np.testing.assert_array_equal(np.asarray(gradient(plain, images[:2])), first)
    with pytest.raises(ValueError, match="activation='swish'; choose one of relu, deconvnet"):
        model.clone(activation="swish").apply(variables, images[:1])


def test_conv1_projection_is_the_filter_scaled_by_the_activation(zfnet):
    model, variables, images = zfnet
    tops = deconvnet.top_activations(model, variables, images, "conv1", channels=[0, 3], k=2)
    projections = deconvnet.project(model, variables, images[tops.image.ravel()], "conv1", tops)
    kernel = np.asarray(variables["params"]["conv1"]["conv"]["kernel"])  # 7×7, stride 2, padding 1
    for index, (channel, row, column, value) in enumerate(
        zip(*(np.ravel(a) for a in (tops.channel, tops.row, tops.column, tops.value)))
    ):
        expected = np.zeros((SIZE + 2, SIZE + 2, 3), np.float32)
        expected[2 * row : 2 * row + 7, 2 * column : 2 * column + 7] = value * kernel[..., channel]
        np.testing.assert_allclose(projections[index], expected[1:-1, 1:-1], rtol=1e-5, atol=1e-6)


def test_top_activations_are_each_images_maximum_in_decreasing_order(zfnet):
    model, variables, images = zfnet
    activations = deconvnet.layer_activations(model, variables, images, "conv5")
    tops = deconvnet.top_activations(model, variables, images, "conv5", channels=[1, 2], k=4)
    for channel, image, row, column, value in zip(*(np.ravel(a) for a in tops)):
        assert activations[image, row, column, channel] == value == activations[image, ..., channel].max()
    assert np.all(np.diff(tops.value, axis=1) <= 0) and len(set(tops.image[0])) == 4


def test_deep_projection_differs_from_the_gradient_and_stays_in_the_receptive_field(zfnet):
    model, variables, images = zfnet
    strongest = deconvnet.layer_activations(model, variables, images, "conv2").max(axis=(0, 1, 2)).argmax()
    tops = deconvnet.top_activations(model, variables, images, "conv2", channels=[strongest], k=1)
    image = images[tops.image.ravel()]
    projection = deconvnet.project(model, variables, image, "conv2", tops)[0]
    i, r, c = int(tops.channel[0, 0]), int(tops.row[0, 0]), int(tops.column[0, 0])
    gradient = jax.grad(lambda x: forward_with_endpoints(model, variables, x)[1]["conv2"][0, r, c, i])(image)[0]
    assert np.abs(projection).max() > 0 and not np.allclose(projection, tops.value[0, 0] * gradient, atol=1e-6)
    rows, columns = deconvnet.receptive_box(projection)
    gradient_rows, gradient_columns = deconvnet.receptive_box(np.asarray(gradient))
    receptive_field = 7 + 2 * 2 + 4 * 4  # conv1 7×7/2, pool 3×3/2, conv2 5×5/2
    assert 0 < rows.stop - rows.start <= receptive_field and 0 < columns.stop - columns.start <= receptive_field
    # Both are confined to the same receptive field; the gradient's support is inside the projection's.
    assert rows.start <= gradient_rows.start and gradient_rows.stop <= rows.stop
    assert columns.start <= gradient_columns.start and gradient_columns.stop <= columns.stop
    shown = deconvnet.to_display(projection)
    assert shown.min() >= 0.0 and shown.max() <= 1.0
