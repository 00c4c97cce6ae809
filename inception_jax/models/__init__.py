"""The model registry: each family module lists its networks in a `VARIANTS` table."""

from __future__ import annotations

import dataclasses
import difflib
import importlib

from inception_jax.models.network import Network

# Family modules, in the order `list_models` reports them.
FAMILIES = (
    "inception_v3",
    "inception_v4",
    "inception_resnet",
    "bn_inception",
    "alexnet",
    "nin",
    "vgg",
    "googlenet",
    "resnet",
)


def _variants() -> dict[str, type[Network]]:
    table = {}
    for family in FAMILIES:
        table.update(importlib.import_module(f"inception_jax.models.{family}").VARIANTS)
    return table


def list_models() -> list[str]:
    """Names accepted by `create_model`."""
    return list(_variants())


def get_model_class(name: str) -> type[Network]:
    """The Flax module class registered under `name`; the error lists the valid names."""
    variants = _variants()
    if name not in variants:
        close = difflib.get_close_matches(name, variants, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} Valid names: {', '.join(variants)}.")
    return variants[name]


def model_options(name: str) -> list[str]:
    """The options `create_model(name, ...)` takes (the network's fields), sorted."""
    return sorted(
        f.name for f in dataclasses.fields(get_model_class(name)) if f.init and f.name not in ("parent", "name")
    )


def check_model_options(name: str, options) -> None:
    """Raises a ValueError naming each of `options` that network `name` lacks, with a close match and every valid
    option."""
    valid = model_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        close = [match for option in unknown for match in difflib.get_close_matches(option, valid, n=1)]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{name} has no option(s) {', '.join(unknown)}.{hint} Valid options: {', '.join(valid)}.")


def create_model(name: str, **overrides) -> Network:
    """Builds network `name`; `overrides` set any of its fields (see `Network` and the family's class)."""
    check_model_options(name, overrides)
    return get_model_class(name)(**overrides)
