"""torchvision → Flax: golden logits from torchvision, every supported key layout, mismatch errors naming keys.

The golden logits in fixtures/torchvision_logits.npz were computed by torchvision
(fixtures/make_torchvision_fixtures.py) with the weights `torchvision_weights.torchvision_state_dict` regenerates
here, so these tests need neither torch nor torchvision.
"""
import functools

import jax
import numpy as np
import pytest

from fixtures.torchvision_weights import (LAYOUT_NETWORKS, LOGIT_NETWORKS, LOGITS_PATH, images, load_layouts,
                                          torchvision_state_dict)
from inception_jax import forward_with_endpoints
from inception_jax.convert import WeightMismatchError, from_torchvision, to_torchvision
from inception_jax.convert.torchvision import torchvision_shapes

TOLERANCE = 1e-4  # max-abs, fp32


@functools.cache
def layouts():
    return load_layouts()


@functools.cache
def state_dict(name: str) -> dict:
    return torchvision_state_dict(layouts()[name])


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(LOGITS_PATH))


def max_abs(a, b) -> float:
    return float(np.abs(np.asarray(a) - b).max())


@pytest.mark.parametrize("name", LOGIT_NETWORKS)
def test_logits_equal_torchvisions(name, golden):
    module, variables, _ = from_torchvision(name, state_dict(name))
    logits = jax.jit(module.apply)(variables, images())
    assert max_abs(logits, golden[name]) < TOLERANCE


def test_googlenet_side_classifiers_equal_torchvisions(golden):
    module, variables, _ = from_torchvision("googlenet", state_dict("googlenet"))
    _, endpoints = jax.jit(lambda v, x: forward_with_endpoints(module, v, x))(variables, images())
    assert max_abs(endpoints["AuxLogits"], golden["googlenet_aux1"]) < TOLERANCE
    assert max_abs(endpoints["AuxLogits2"], golden["googlenet_aux2"]) < TOLERANCE


def test_googlenet_without_side_classifier_keys_converts_without_them(golden):
    weights = {key: value for key, value in state_dict("googlenet").items() if not key.startswith("aux")}
    module, variables, _ = from_torchvision("googlenet", weights)
    assert not module.aux_head and "AuxLogits" not in variables["params"]
    assert max_abs(jax.jit(module.apply)(variables, images()), golden["googlenet"]) < TOLERANCE


def test_modules_are_torchvisions_variants():
    googlenet, _, _ = from_torchvision("googlenet", state_dict("googlenet"))
    assert (googlenet.batch_norm, googlenet.lrn, googlenet.tower_kernel, googlenet.pool4_window,
            googlenet.dropout_rate, googlenet.bn_momentum) == (True, False, 3, 2, 0.2, 0.9)
    resnet, variables, _ = from_torchvision("resnet50", state_dict("resnet50"))
    assert resnet.stride_on_3x3 and (resnet.bn_epsilon, resnet.bn_momentum) == (1e-5, 0.9)
    # v1.5: the first bottleneck of conv3_x strides its 3×3, and its BatchNorm statistics came along.
    assert variables["batch_stats"]["conv3_1"]["conv_3x3"]["bn"]["var"].shape == (128,)
    alexnet, _, _ = from_torchvision("alexnet", state_dict("alexnet"))
    assert (alexnet.widths, alexnet.groups, alexnet.lrn, alexnet.conv1_padding) == ((64, 192, 384, 256, 256), 1,
                                                                                     False, 2)


@pytest.mark.parametrize("name", list(LAYOUT_NETWORKS))
def test_every_supported_layout_is_the_one_the_converter_expects(name):
    counters = [key for key in layouts()[name] if key.endswith("num_batches_tracked")]
    expected = {key: shape for key, (shape, _) in layouts()[name].items() if key not in counters}
    assert torchvision_shapes(name, aux_logits=name == "googlenet") == expected


def test_class_count_comes_from_the_classifier():
    weights = dict(state_dict("resnet18"), **{"fc.weight": np.zeros((10, 512), np.float32),
                                              "fc.bias": np.zeros(10, np.float32)})
    module, variables, _ = from_torchvision("resnet18", weights)
    assert module.num_classes == 10 and variables["params"]["Logits"]["kernel"].shape == (512, 10)


def test_state_dict_without_batch_counters_converts():
    weights = {key: value for key, value in state_dict("resnet18").items() if not key.endswith("num_batches_tracked")}
    _, without, _ = from_torchvision("resnet18", weights)
    _, with_counters, _ = from_torchvision("resnet18", state_dict("resnet18"))
    assert jax.tree.all(jax.tree.map(np.array_equal, without, with_counters))


def test_safetensors_file_converts_like_the_dict(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "resnet18.safetensors"
    save_file(state_dict("resnet18"), str(path))
    _, from_file, _ = from_torchvision("resnet18", path)
    _, from_dict, _ = from_torchvision("resnet18", state_dict("resnet18"))
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_missing_key_is_named():
    weights = dict(state_dict("resnet50"))
    del weights["layer3.2.bn2.running_var"]
    with pytest.raises(WeightMismatchError, match=r"1 missing \(layer3\.2\.bn2\.running_var\)"):
        from_torchvision("resnet50", weights)


def test_extra_key_is_named():
    weights = dict(state_dict("vgg16"), **{"features.31.weight": np.zeros((8, 512, 3, 3), np.float32)})
    with pytest.raises(WeightMismatchError, match=r"1 unexpected \(features\.31\.weight\)"):
        from_torchvision("vgg16", weights)


def test_wrong_shape_is_named():
    weights = dict(state_dict("googlenet"))
    weights["inception4c.branch3.1.conv.weight"] = np.zeros((64, 24, 5, 5), np.float32)  # the paper's 5×5
    with pytest.raises(WeightMismatchError, match=r"1 with the wrong shape \(inception4c\.branch3\.1\.conv\.weight "
                                                   r"\(64, 24, 5, 5\) where \(64, 24, 3, 3\) is needed"):
        from_torchvision("googlenet", weights)


def test_another_networks_state_dict_is_recognised():
    with pytest.raises(WeightMismatchError, match=r"\d+ missing \(layer1\.2\.conv1\.weight.*"
                                                   r"look like torchvision's resnet18"):
        from_torchvision("resnet34", state_dict("resnet18"))


def test_unsupported_network_lists_the_supported_ones():
    with pytest.raises(ValueError, match="supported: alexnet, vgg11, .*resnet152"):
        from_torchvision("vgg11_lrn", {})


@pytest.mark.parametrize("name", list(LAYOUT_NETWORKS))
def test_to_torchvision_gives_back_the_state_dict_exactly(name):
    original = state_dict(name)
    batches = {int(v) for k, v in original.items() if k.endswith("num_batches_tracked")}
    _, variables, _ = from_torchvision(name, original)
    back = to_torchvision(name, variables, num_batches_tracked=batches.pop() if batches else 0)
    assert set(back) == set(original)
    for key, value in original.items():
        assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key


def test_to_torchvision_refuses_variables_of_another_network():
    _, variables, _ = from_torchvision("resnet18", state_dict("resnet18"))
    with pytest.raises(WeightMismatchError, match="resnet34"):
        to_torchvision("resnet34", variables)
