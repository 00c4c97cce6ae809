"""timm ↔ Flax: golden logits from timm, exact round trips, and mismatch errors that name the keys.

The golden logits in fixtures/timm_logits.npz were computed by timm (fixtures/make_timm_fixtures.py) with the
weights `timm_weights.timm_state_dict` regenerates here, so these tests need neither torch nor timm.
"""
import sys
import types

import jax
import numpy as np
import pytest
from flax import traverse_util

from inception_jax.convert import WeightMismatchError, from_timm, to_timm
from inception_jax.models.layers import AuxHead
from fixtures.timm_weights import LOGITS_PATH, NETWORKS, aux_features, images, load_layouts, timm_state_dict

TOLERANCE = 1e-4  # max-abs, fp32


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


@pytest.mark.parametrize("name", list(NETWORKS))
def test_logits_equal_timms(name, state_dicts, golden):
    module, variables, _ = from_timm(name, state_dicts[name])
    logits = jax.jit(module.apply)(variables, images())
    assert np.abs(np.asarray(logits) - golden[name]).max() < TOLERANCE


def test_v3_aux_head_equals_timms(state_dicts, golden):
    module, variables, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    assert module.aux_head and module.avg_pool_count_include_pad
    head = {collection: variables[collection]["AuxLogits"] for collection in ("params", "batch_stats")}
    aux_logits = AuxHead(module.opts, module.num_classes).apply(head, aux_features())
    assert np.abs(np.asarray(aux_logits) - golden["inception_v3_aux"]).max() < TOLERANCE


def test_v3_without_aux_keys_converts_without_aux_head(state_dicts, golden):
    state_dict = {key: value for key, value in state_dicts["inception_v3"].items() if not key.startswith("AuxLogits.")}
    module, variables, _ = from_timm("inception_v3", state_dict)
    assert not module.aux_head and "AuxLogits" not in variables["params"]
    logits = jax.jit(module.apply)(variables, images())
    assert np.abs(np.asarray(logits) - golden["inception_v3"]).max() < TOLERANCE


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
    state_dict = {key: value for key, value in state_dicts["inception_v3"].items()
                  if not key.endswith("num_batches_tracked")}
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
    variables = {"params": {"AuxLogits": {"Logits": {"kernel": np.zeros((768, 10)), "bias": np.zeros(10)}},
                            "Logits": {"kernel": np.zeros((1536, 10)), "bias": np.zeros(10)}}}
    with pytest.raises(WeightMismatchError, match="AuxLogits"):
        to_timm("inception_v4", variables)


def test_safetensors_file_converts_like_the_dict(state_dicts, tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "inception_v3.safetensors"
    save_file(state_dicts["inception_v3"], str(path))
    _, from_file, _ = from_timm("inception_v3", path)
    _, from_dict, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_pth_training_checkpoint_is_read_with_torch(state_dicts, tmp_path, monkeypatch):
    class Tensor:  # what torch.load returns, as far as the converter uses it
        def __init__(self, value):
            self.value = value

        def numpy(self):
            return self.value

    checkpoint = {"state_dict": {key: Tensor(value) for key, value in state_dicts["inception_v3"].items()}}
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=lambda *args, **kwargs: checkpoint))
    _, from_file, _ = from_timm("inception_v3", tmp_path / "checkpoint.pth")
    _, from_dict, _ = from_timm("inception_v3", state_dicts["inception_v3"])
    assert jax.tree.all(jax.tree.map(np.array_equal, from_file, from_dict))


def test_pth_file_without_torch_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match="safetensors"):
        from_timm("inception_v3", tmp_path / "weights.pth")


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
    with pytest.raises(WeightMismatchError, match=r"\d+ missing \(Conv2d_1a_3x3.*\d+ unexpected \(features\.0.*"
                                                   r"look like timm's inception_v4"):
        from_timm("inception_v3", state_dicts["inception_v4"])


def test_unsupported_network_lists_the_supported_ones():
    with pytest.raises(ValueError, match="inception_v4"):
        from_timm("inception_resnet_v1", {})
