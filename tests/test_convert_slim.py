"""TF-slim checkpoints → Flax: a checkpoint written under slim's variable names converts back to the variables
it was written from, and gives the Keras model's logits with the background class dropped or kept.

The slim names are derived here by rules from the Flax paths, independently of the converter's tables.
"""

import re

import jax
import numpy as np
import pytest
from fixtures.keras_weights import MEASURED, keras_logits, random_keras_model
from fixtures.timm_weights import images
from flax import traverse_util
from model_utils import random_variables
from parity import assert_max_abs

import inception_jax
from inception_jax.convert import WeightMismatchError, from_keras, from_slim

SCOPES = {"inception_v3": "InceptionV3", "inception_v4": "InceptionV4", "inception_resnet_v2": "InceptionResnetV2"}
KERAS_NETWORKS = ("inception_v3", "inception_resnet_v2")
AUX_INPUT_CHANNELS = {"inception_v3": 768, "inception_resnet_v2": 1088}
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# Flax module path → slim scope below the network's, one function per network.
def v3_scope(path: tuple[str, ...]) -> str:
    if path == ("Logits",):
        return "Logits/Conv2d_1c_1x1"
    if path == ("AuxLogits", "Logits"):
        return "AuxLogits/Conv2d_2b_1x1"
    name = "/".join(path).removeprefix("Stem/")
    name = name.replace("Mixed_5c/Branch_1/Conv2d_0a_1x1", "Mixed_5c/Branch_1/Conv2d_0b_1x1")
    name = name.replace("Mixed_5c/Branch_1/Conv2d_0b_5x5", "Mixed_5c/Branch_1/Conv_1_0c_5x5")
    name = name.replace("Mixed_7b/Branch_1/Conv2d_0c_3x1", "Mixed_7b/Branch_1/Conv2d_0b_3x1")
    if name.startswith("Mixed_6a"):
        return re.sub(r"Conv2d_1\w_3x3", "Conv2d_1a_1x1", name)
    return re.sub(r"Conv2d_1\w_3x3", "Conv2d_1a_3x3", name)


def v4_scope(path: tuple[str, ...]) -> str:
    if path == ("Logits",):
        return "Logits/Logits"
    if path == ("AuxLogits", "Logits"):
        return "AuxLogits/Aux_logits"
    name = "/".join(path).removeprefix("Stem/").removeprefix("Tower/").replace("Conv2d_2a_5x5", "Conv2d_2a")
    if name.startswith("Mixed_3a"):
        return name.replace("Conv2d_1a_3x3", "Conv2d_0a_3x3")
    if name.startswith("Mixed_4a"):
        return re.sub(r"Conv2d_0\w_3x3", "Conv2d_1a_3x3", name)
    return re.sub(r"Conv2d_1\w_3x3", "Conv2d_1a_3x3", name)


def irv2_scope(path: tuple[str, ...]) -> str:
    if path == ("Logits",):
        return "Logits/Logits"
    name = "/".join(part for part in path if part != "Residual").removeprefix("Stem/")
    for block, repeat in (("35", "Repeat"), ("17", "Repeat_1"), ("8", "Repeat_2")):
        name = re.sub(rf"^Block{block}_(\d+)", lambda m: f"{repeat}/block{block}_{int(m[1]) + 1}", name)
    if not name.startswith("Mixed_7a"):
        name = name.replace("Branch_0/Conv2d_0a_1x1", "Branch_0/Conv2d_1x1")
    return re.sub(r"Conv2d_1\w_3x3", "Conv2d_1a_3x3", name)


SLIM_SCOPE = {"inception_v3": v3_scope, "inception_v4": v4_scope, "inception_resnet_v2": irv2_scope}
SLIM_LEAF = {
    ("conv", "kernel"): "weights",
    ("bn", "bias"): "BatchNorm/beta",
    ("bn", "mean"): "BatchNorm/moving_mean",
    ("bn", "var"): "BatchNorm/moving_variance",
    ("kernel",): "weights",
    ("bias",): "biases",
}


def slim_variables(name: str, variables) -> dict[str, np.ndarray]:
    """Flax variables (without BatchNorm γ) under slim's names and layouts."""
    stored = {}
    for key, value in traverse_util.flatten_dict(variables).items():
        leaf = key[-2:] if key[-2] in ("conv", "bn") else key[-1:]
        path = key[1 : -len(leaf)]
        value = np.asarray(value)
        scope = SLIM_SCOPE[name](path)
        if scope.endswith(("Conv2d_1c_1x1", "Conv2d_2b_1x1")) and value.ndim == 2:
            value = value.reshape(1, 1, *value.shape)  # Inception-v3's classifiers are 1×1 convs
        stored[f"{SCOPES[name]}/{scope}/{SLIM_LEAF[leaf]}"] = value
    return stored


def random_aux_head(name: str, classes: int, rng: np.random.Generator) -> dict:
    """Random aux-head variables in Flax layout (the Keras applications have none)."""

    def conv_bn(kernel_shape):
        features = kernel_shape[-1]
        return (
            {"conv": {"kernel": rng.normal(0, 0.05, kernel_shape)}, "bn": {"bias": rng.normal(0, 0.1, features)}},
            {"bn": {"mean": rng.normal(0, 0.1, features), "var": rng.uniform(0.75, 1.75, features)}},
        )

    reduce, reduce_stats = conv_bn((1, 1, AUX_INPUT_CHANNELS[name], 128))
    expand, expand_stats = conv_bn((5, 5, 128, 768))
    logits = {"kernel": rng.normal(0, 0.03, (768, classes)), "bias": rng.normal(0, 0.01, classes)}
    params = {"Conv2d_1b_1x1": reduce, "Conv2d_2a_5x5": expand, "Logits": logits}
    return jax.tree.map(
        lambda x: x.astype(np.float32),
        {"params": params, "batch_stats": {"Conv2d_1b_1x1": reduce_stats, "Conv2d_2a_5x5": expand_stats}},
    )


def save_checkpoint(prefix: str, variables: dict[str, np.ndarray]) -> None:
    import tensorflow as tf  # noqa: PLC0415  (TensorFlow only when this test runs)

    names = list(variables)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[variables[name] for name in names],
    )


@pytest.mark.parametrize("name", KERAS_NETWORKS)
def test_checkpoint_with_background_converts_to_keras_logits(name, tmp_path):
    keras_model = random_keras_model(name, classes=1001)
    _, variables, _ = from_keras(name, keras_model)
    aux = random_aux_head(name, 1001, np.random.default_rng(0))
    for collection in ("params", "batch_stats"):
        variables[collection]["AuxLogits"] = aux[collection]
    stored = slim_variables(name, variables)
    # Training bookkeeping that is not weights: skipped.
    stored["global_step"] = np.array(1000, np.int64)
    stored[f"{SCOPES[name]}/Conv2d_1a_3x3/weights/RMSProp"] = stored[f"{SCOPES[name]}/Conv2d_1a_3x3/weights"]
    prefix = str(tmp_path / "model.ckpt")
    save_checkpoint(prefix, stored)

    module, with_background, _ = from_slim(name, prefix, keep_background=True)
    assert (module.num_classes, module.aux_head, module.bn_use_scale) == (1001, True, False)
    assert jax.tree.all(jax.tree.map(np.array_equal, with_background, variables))

    module, converted, _ = from_slim(name, prefix)
    assert module.num_classes == 1000
    written, read = (traverse_util.flatten_dict(tree["params"]) for tree in (variables, converted))
    for head in (("Logits",), ("AuxLogits", "Logits")):
        assert np.array_equal(read[(*head, "kernel")], written[(*head, "kernel")][:, 1:])
        assert np.array_equal(read[(*head, "bias")], written[(*head, "bias")][1:])
    logits = jax.jit(module.apply)(converted, images())
    assert_max_abs(
        f"{name} from a slim checkpoint against Keras",
        logits,
        keras_logits(keras_model, images())[:, 1:],
        MEASURED[name],
    )


def test_v4_checkpoint_converts_to_the_variables_it_was_written_from(tmp_path):
    model = inception_jax.create_model("inception_v4", num_classes=1001, aux_head=True)
    variables = random_variables(model, model.min_size)
    prefix = str(tmp_path / "model.ckpt")
    save_checkpoint(prefix, slim_variables("inception_v4", variables))
    module, converted, _ = from_slim("inception_v4", prefix, keep_background=True)
    assert module == model
    assert jax.tree.all(jax.tree.map(np.array_equal, converted, variables))


def test_checkpoint_of_another_network_is_refused(tmp_path):
    prefix = str(tmp_path / "v4.ckpt")
    save_checkpoint(prefix, {"InceptionV4/Logits/Logits/biases": np.zeros(1001, np.float32)})
    with pytest.raises(
        WeightMismatchError, match=r"\d+ missing \(InceptionV3/Conv2d_1a_3x3/weights.*scopes: InceptionV4"
    ):
        from_slim("inception_v3", prefix)
