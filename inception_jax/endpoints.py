"""Endpoints (slim's named activations) and auxiliary logits from the same forward pass as the logits.

Every network sows one dict of its endpoints, aux logits included, as `intermediates/endpoints`. Making the
`intermediates` collection mutable in `apply` returns it alongside the logits:

    logits, state = model.apply(variables, images, train=False, mutable=["intermediates"])
    state["intermediates"]["endpoints"]["Mixed_6e"]

`forward_with_endpoints` does exactly this. Keys are slim's names (`Conv2d_1a_3x3`, `Mixed_6e`, `PreLogits`,
`AuxLogits`, ...). Only what the caller uses survives `jax.jit`, so asking for endpoints costs nothing extra.
"""

from __future__ import annotations

import flax.linen as nn

from inception_jax.models.layers import ENDPOINTS


def forward_with_endpoints(model: nn.Module, variables, images, train: bool = False, **apply_kwargs):
    """Returns `(logits, endpoints)`; in train mode also the updated batch stats: `(logits, endpoints, state)`.

    `apply_kwargs` go to `model.apply` (e.g. `rngs={"dropout": key}` in train mode).
    """
    mutable = [ENDPOINTS, "batch_stats"] if train else [ENDPOINTS]
    logits, state = model.apply(variables, images, train=train, mutable=mutable, **apply_kwargs)
    state = dict(state)
    endpoints = dict(state.pop(ENDPOINTS)["endpoints"])
    return (logits, endpoints, state) if train else (logits, endpoints)
