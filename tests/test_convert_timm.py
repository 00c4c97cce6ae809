"""timm ↔ Flax: golden logits from timm, exact round trips, and mismatch errors that name the keys.

The golden logits in fixtures/timm_logits.npz were computed by timm (fixtures/make_timm_fixtures.py) with the
weights `timm_weights.timm_state_dict` regenerates here, so these tests need neither torch nor timm. They are
compared at 75 px and at full size, 299×331, where the last blocks' maps are 8×9 and spatial errors show.
"""

import functools
import sys

import jax
import numpy as np
import pytest
from fixtures import torch_writer
from fixtures.timm_weights import (
    LOGITS_PATH,
    NETWORKS,
    aux_features,
    full_size_image,
    images,
    load_layouts,
    timm_state_dict,
)
from flax import traverse_util
from parity import assert_max_abs
from safetensors.numpy import save_file

from inception_jax import forward_with_endpoints
from inception_jax.convert import WeightMismatchError, from_timm, to_timm
from inception_jax.models.layers import AuxHead

# Max-abs differences from timm's logits over every comparison below, measured 2026-12-03 (JAX 0.10.2 on CPU
# against timm 1.0.31 on CPU PyTorch 2.13); docs/weights.md states them. Logits reach 0.9 (v3, v4) and 5.9 (IR-v2).
MEASURED = {"inception_v3": 2.2e-6, "inception_v4": 1.3e-6, "inception_resnet_v2": 6.0e-6}


@pytest.fixture(scope="module")
def state_dicts():
    layouts = load_layouts()
    return {name: timm_state_dict(layouts[name]) for name in NETWORKS}


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(LOGITS_PATH))


def batch_count(state_dict) -> int:
    counters = {int(value) for key, value in state_dict.items() if key.endswith("num_batches_tracked")}
    assert len(counters) == 1
    return counters.pop()


@functools.cache
def converted(name: str):
    """(module, variables, jitted forward with endpoints) of timm's seeded weights, built once per network."""
    module, variables, _ = from_timm(name, timm_state_dict(load_layouts()[name]))
    return module, variables, jax.jit(lambda v, x: forward_with_endpoints(module, v, x))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_logits_equal_timms_at_75_px(name, golden):
    _, variables, forward = converted(name)
    logits, _ = forward(variables, images())
    assert_max_abs(f"{name} at 75 px against timm", logits, golden[name], MEASURED[name])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_logits_equal_timms_at_full_size(name, golden):
    _, variables, forward = converted(name)
    logits, endpoints = forward(variables, full_size_image())
    assert_max_abs(f"{name} at 299×331 against timm", logits, golden[f"{name}_full"], MEASURED[name])
    if name == "inception_v3":
        assert_max_abs(
            "inception_v3's aux logits at 299×331 against timm",
            endpoints["AuxLogits"],
            golden["inception_v3_aux_full"],
            MEASURED[name],
        )


# The last blocks' convs, whose spatial taps the 75 px inputs cannot see (their maps are 1×1 there).
LATE_CONVS = {
    "inception_v3": ("Mixed_7c", "Branch_2", "Conv2d_0b_3x3"),
    "inception_v4": ("Mixed_7d", "Branch_2", "Conv2d_0b_3x1"),
    "inception_resnet_v2": ("Block8", "Branch_1", "Conv2d_0b_1x3"),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_full_size_golden_sees_one_late_conv_with_flipped_taps(name, golden):
    _, variables, forward = converted(name)
    flipped = jax.tree.map(lambda leaf: leaf, variables)
    conv = flipped["params"]
    for part in LATE_CONVS[name]:
        conv = conv[part]
    conv["conv"]["kernel"] = conv["conv"]["kernel"][::-1, ::-1]
    error = float(np.abs(np.asarray(forward(flipped, full_size_image())[0]) - golden[f"{name}_full"]).max())
    assert error > 100 * MEASURED[name], f"flipping {'/'.join(LATE_CONVS[name])} changed the logits by {error:.1e}"


def test_v3_aux_head_equals_timms(golden):
    module, variables, _ = converted("inception_v3")
    assert module.aux_head and module.avg_pool_count_include_pad
    head = {collection: variables[collection]["AuxLogits"] for collection in ("params", "batch_stats")}
    aux_logits = AuxHead(module.opts, module.num_classes).apply(head, aux_features())
    assert_max_abs(
        "inception_v3's aux head on 17×17 features against timm",
        aux_logits,
        golden["inception_v3_aux"],
        MEASURED["inception_v3"],
    )


def test_v3_without_aux_keys_converts_without_aux_head(state_dicts, golden):
    state_dict = {key: value for key, value in state_dicts["inception_v3"].items() if not key.startswith("AuxLogits.")}
    module, variables, _ = from_timm("inception_v3", state_dict)
    assert not module.aux_head and "AuxLogits" not in variables["params"]
    logits = jax.jit(module.apply)(variables, images())
    assert_max_abs(
        "inception_v3 without aux head against timm", logits, golden["inception_v3"], MEASURED["inception_v3"]
    )


def test_module_trains_like_timm(state_dicts):
    module, _, _ = from_timm("inception_v4", state_dicts["inception_v4"])
    assert (module.bn_use_scale, module.bn_epsilon, module.bn_momentum, module.dropout_rate) == (True, 1e-3, 0.9, 0.0)
    assert not module.avg_pool_count_include_pad and module.num_classes == 1000


@pytest.mark.parametrize("name", list(NETWORKS))
def test_round_trip_reproduces_the_state_dict(name, state_dicts):
    state_dict = state_dicts[name]
    _, variables, _ = from_timm(name, state_dict)
    back = to_timm(name, variables, num_batches_tracked=batch_count(state_dict))
    assert list(back) == list(state_dict)
    for key, value in state_dict.items():
        assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key


def test_state_dict_without_batch_counters_converts_and_round_trips(state_dicts):
    state_dict = {
        key: value for key, value in state_dicts["inception_v3"].items() if not key.endswith("num_batches_tracked")
    }
    _, variables, _ = from_timm("inception_v3", state_dict)
    back = to_timm("inception_v3", variables, num_batches_tracked=None)
    assert list(back) == list(state_dict)


def test_to_timm_writes_unit_gamma_for_variables_without_it(state_dicts):
    _, variables, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    leaves = traverse_util.flatten_dict(variables)
    without_gamma = traverse_util.unflatten_dict({key: leaf for key, leaf in leaves.items() if key[-1] != "scale"})
    back = to_timm("inception_v3", without_gamma)
    key = "Mixed_6b.branch7x7_2.bn"
    assert np.array_equal(back[f"{key}.weight"], np.ones(128, np.float32))
    assert np.array_equal(back[f"{key}.bias"], state_dicts["inception_v3"][f"{key}.bias"])


def test_to_timm_refuses_an_aux_head_timm_lacks():
    variables = {
        "params": {
            "AuxLogits": {"Logits": {"kernel": np.zeros((768, 10)), "bias": np.zeros(10)}},
            "Logits": {"kernel": np.zeros((1536, 10)), "bias": np.zeros(10)},
        }
    }
    with pytest.raises(WeightMismatchError, match="AuxLogits"):
        to_timm("inception_v4", variables)


def test_safetensors_file_converts_like_the_dict(state_dicts, tmp_path):

    path = tmp_path / "inception_v3.safetensors"
    save_file(state_dicts["inception_v3"], str(path))
    _, from_file, _ = from_timm("inception_v3", path)
    _, from_dict, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_pth_training_checkpoint_converts_without_torch(state_dicts, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    path = tmp_path / "checkpoint.pth"
    torch_writer.save({"state_dict": state_dicts["inception_v3"], "epoch": 90}, path)  # timm's training checkpoint
    _, from_file, _ = from_timm("inception_v3", path)
    _, from_dict, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_missing_key_is_named(state_dicts):
    state_dict = dict(state_dicts["inception_v4"])
    del state_dict["features.7.branch2.1.conv.weight"]
    with pytest.raises(WeightMismatchError, match=r"1 missing \(features\.7\.branch2\.1\.conv\.weight\)"):
        from_timm("inception_v4", state_dict)


def test_extra_key_is_named(state_dicts):
    state_dict = dict(state_dicts["inception_v4"], **{"features.22.conv.weight": np.zeros((8, 8, 1, 1), np.float32)})
    with pytest.raises(WeightMismatchError, match=r"1 unexpected \(features\.22\.conv\.weight\)"):
        from_timm("inception_v4", state_dict)


def test_wrong_shape_is_named(state_dicts):
    state_dict = dict(state_dicts["inception_resnet_v2"])
    state_dict["repeat.3.conv2d.bias"] = np.zeros(32, np.float32)
    with pytest.raises(WeightMismatchError, match=r"1 with the wrong shape \(repeat\.3\.conv2d\.bias \(32,\)"):
        from_timm("inception_resnet_v2", state_dict)


def test_another_networks_state_dict_is_recognised(state_dicts):
    with pytest.raises(
        WeightMismatchError,
        match=r"\d+ missing \(Conv2d_1a_3x3.*\d+ unexpected \(features\.0.*"
        r"look like timm's inception_v4",
    ):
        from_timm("inception_v3", state_dicts["inception_v4"])


def test_unsupported_network_lists_the_supported_ones():
    with pytest.raises(ValueError, match="inception_v4"):
        from_timm("inception_resnet_v1", {})
