"""torchvision → Flax: golden logits from torchvision, every supported key layout, mismatch errors naming keys.

The golden logits in fixtures/torchvision_logits.npz were computed by torchvision
(fixtures/make_torchvision_fixtures.py) with the weights `torchvision_weights.torchvision_state_dict` regenerates
here, so these tests need neither torch nor torchvision. They are compared at 112 px and, for
`FULL_SIZE_NETWORKS`, at full size, 224×256.
"""

import functools
import sys

import jax
import numpy as np
import pytest
from fixtures import torch_writer
from fixtures.torchvision_weights import (
    FULL_SIZE_NETWORKS,
    LAYOUT_NETWORKS,
    LOGIT_NETWORKS,
    LOGITS_PATH,
    full_size_image,
    images,
    load_layouts,
    torchvision_state_dict,
)
from parity import assert_max_abs
from safetensors.numpy import save_file

from inception_jax import forward_with_endpoints
from inception_jax.convert import WeightMismatchError, from_torchvision, to_torchvision
from inception_jax.convert.torchvision import torchvision_shapes

# Max-abs differences from torchvision's logits (side classifiers included) over both sizes, measured 2026-12-03
# (JAX 0.10.2 on CPU against torchvision 0.28 on CPU PyTorch 2.13); docs/weights.md states them. Logits reach 3–6.
# PyTorch itself moved AlexNet's and VGG's logits by up to 7.7e-6 between two runs of the fixture script.
MEASURED = {"alexnet": 1.1e-5, "vgg16": 9.4e-6, "googlenet": 4.1e-6, "resnet18": 2.2e-6, "resnet50": 7.6e-6}


@functools.cache
def layouts():
    return load_layouts()


@functools.cache
def state_dict(name: str) -> dict:
    return torchvision_state_dict(layouts()[name])


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(LOGITS_PATH))


@functools.cache
def converted(name: str):
    """(variables, jitted forward with endpoints) of torchvision's seeded weights, built once per network."""
    module, variables, _ = from_torchvision(name, state_dict(name))
    return variables, jax.jit(lambda v, x: forward_with_endpoints(module, v, x))


@pytest.mark.parametrize("name", LOGIT_NETWORKS)
def test_logits_equal_torchvisions(name, golden):
    variables, forward = converted(name)
    logits, _ = forward(variables, images())
    assert_max_abs(f"{name} at 112 px against torchvision", logits, golden[name], MEASURED[name])


@pytest.mark.parametrize("name", FULL_SIZE_NETWORKS)
def test_logits_equal_torchvisions_at_full_size(name, golden):
    variables, forward = converted(name)
    logits, endpoints = forward(variables, full_size_image())
    assert_max_abs(f"{name} at 224×256 against torchvision", logits, golden[f"{name}_full"], MEASURED[name])
    if name == "googlenet":
        for endpoint, key in (("AuxLogits", "googlenet_aux1_full"), ("AuxLogits2", "googlenet_aux2_full")):
            assert_max_abs(f"googlenet's {endpoint} at 224×256", endpoints[endpoint], golden[key], MEASURED[name])


def test_googlenet_side_classifiers_equal_torchvisions(golden):
    variables, forward = converted("googlenet")
    _, endpoints = forward(variables, images())
    for endpoint, key in (("AuxLogits", "googlenet_aux1"), ("AuxLogits2", "googlenet_aux2")):
        assert_max_abs(f"googlenet's {endpoint} at 112 px", endpoints[endpoint], golden[key], MEASURED["googlenet"])


def test_googlenet_without_side_classifier_keys_converts_without_them(golden):
    weights = {key: value for key, value in state_dict("googlenet").items() if not key.startswith("aux")}
    module, variables, _ = from_torchvision("googlenet", weights)
    assert not module.aux_head and "AuxLogits" not in variables["params"]
    assert_max_abs(
        "googlenet without side classifiers",
        jax.jit(module.apply)(variables, images()),
        golden["googlenet"],
        MEASURED["googlenet"],
    )


def test_modules_are_torchvisions_variants():
    googlenet, _, _ = from_torchvision("googlenet", state_dict("googlenet"))
    assert (
        googlenet.batch_norm,
        googlenet.lrn,
        googlenet.tower_kernel,
        googlenet.pool4_window,
        googlenet.dropout_rate,
        googlenet.bn_momentum,
    ) == (True, False, 3, 2, 0.2, 0.9)
    resnet, variables, _ = from_torchvision("resnet50", state_dict("resnet50"))
    assert resnet.stride_on_3x3 and (resnet.bn_epsilon, resnet.bn_momentum) == (1e-5, 0.9)
    # v1.5: the first bottleneck of conv3_x strides its 3×3, and its BatchNorm statistics came along.
    assert variables["batch_stats"]["conv3_1"]["conv_3x3"]["bn"]["var"].shape == (128,)
    alexnet, _, _ = from_torchvision("alexnet", state_dict("alexnet"))
    assert (alexnet.widths, alexnet.groups, alexnet.lrn, alexnet.conv1_padding) == (
        (64, 192, 384, 256, 256),
        1,
        False,
        2,
    )


@pytest.mark.parametrize("name", list(LAYOUT_NETWORKS))
def test_every_supported_layout_is_the_one_the_converter_expects(name):
    counters = [key for key in layouts()[name] if key.endswith("num_batches_tracked")]
    expected = {key: shape for key, (shape, _) in layouts()[name].items() if key not in counters}
    assert torchvision_shapes(name, aux_logits=name == "googlenet") == expected


def test_class_count_comes_from_the_classifier():
    weights = dict(
        state_dict("resnet18"), **{"fc.weight": np.zeros((10, 512), np.float32), "fc.bias": np.zeros(10, np.float32)}
    )
    module, variables, _ = from_torchvision("resnet18", weights)
    assert module.num_classes == 10 and variables["params"]["Logits"]["kernel"].shape == (512, 10)


def test_state_dict_without_batch_counters_converts():
    weights = {key: value for key, value in state_dict("resnet18").items() if not key.endswith("num_batches_tracked")}
    _, without, _ = from_torchvision("resnet18", weights)
    _, with_counters, _ = from_torchvision("resnet18", state_dict("resnet18"))
    assert jax.tree.all(jax.tree.map(np.array_equal, without, with_counters))


def test_safetensors_file_converts_like_the_dict(tmp_path):

    path = tmp_path / "resnet18.safetensors"
    save_file(state_dict("resnet18"), str(path))
    _, from_file, _ = from_torchvision("resnet18", path)
    _, from_dict, _ = from_torchvision("resnet18", state_dict("resnet18"))
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_pth_file_converts_without_torch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    path = tmp_path / "resnet18.pth"
    torch_writer.save(state_dict("resnet18"), path)
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
    with pytest.raises(
        WeightMismatchError,
        match=r"1 with the wrong shape \(inception4c\.branch3\.1\.conv\.weight "
        r"\(64, 24, 5, 5\) where \(64, 24, 3, 3\) is needed",
    ):
        from_torchvision("googlenet", weights)


def test_another_networks_state_dict_is_recognised():
    with pytest.raises(
        WeightMismatchError,
        match=r"\d+ missing \(layer1\.2\.conv1\.weight.*"
        r"look like torchvision's resnet18",
    ):
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
