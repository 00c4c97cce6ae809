"""The options and forward skeleton shared by every network: input check → body → classifier head.

A network subclasses `Network`, sets `min_size`, and implements `body(x, train, endpoints)`, calling
`self.block(x, train, endpoints, BlockClass, *args, name=...)` for each top-level block: its output is recorded
as an endpoint named after the block, and with `remat="block"` the block is rematerialised in the backward pass.
The whole dict is sown once, as `intermediates/endpoints`, when the caller makes `intermediates` mutable.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from inception_jax.models.layers import (
    ENDPOINTS,
    AuxHead,
    LayerOptions,
    NetOptions,
    check_input_size,
    linear_init,
    wants_aux,
)

REMAT_POLICIES = ("none", "block")


class Network(LayerOptions):
    """Options every network takes: `LayerOptions`' (widths, BatchNorm, dtypes, pooling, activation) and these.
    Defaults follow the authors' (TF-slim) releases.

    Attributes:
      num_classes: logits size; 0 returns the pooled features ("PreLogits").
      dropout_rate: before the classifier; slim's keep probability 0.8 is rate 0.2.
      aux_head: the auxiliary classifier on the last 17×17 block, sown as endpoint "AuxLogits".
      remat: "none", or "block" to recompute each top-level block's activations in the backward pass
        (only block outputs are kept), trading compute for memory.
    """

    num_classes: int = 1000
    dropout_rate: float = 0.2
    aux_head: bool = False
    remat: str = "none"

    min_size: ClassVar[int] = 75
    default_size: ClassVar[int] = 299
    # The endpoints of the network's auxiliary classifiers, which the train step adds to the loss. A network that
    # declares none refuses aux_head=True.
    aux_names: ClassVar[tuple[str, ...]] = ("AuxLogits",)

    @property
    def opts(self) -> NetOptions:
        """The options every layer reads, copied from this network's fields of the same names."""
        return NetOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(NetOptions)})

    @nn.compact
    def __call__(self, images, train: bool = False):
        """Maps NHWC images in [-1, 1] to logits [N, num_classes] (or pooled features if num_classes=0)."""
        name = type(self).__name__
        check_input_size(images, self.min_size, name)
        if self.aux_head and not self.aux_names:
            raise ValueError(f"{name} has no auxiliary classifier; create it with aux_head=False.")
        endpoints = {}
        # The paper's "died" signal: all zeros here when a network dies (section 3.3).
        x = endpoints["PrePool"] = self.body(jnp.asarray(images, self.dtype), train, endpoints)
        x = self.head(x, train, endpoints)
        self.sow(ENDPOINTS, "endpoints", endpoints, init_fn=lambda: None, reduce_fn=lambda _, new: new)
        return x

    def body(self, x, train: bool, endpoints: dict):
        """The network up to its last feature map; records endpoints in `endpoints`."""
        raise NotImplementedError

    def head(self, x, train: bool, endpoints: dict):
        """Global average pool → dropout → Dense "Logits"; networks with other classifiers override it."""
        x = endpoints["PreLogits"] = jnp.mean(x, axis=(1, 2))
        if self.num_classes:
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
            x = endpoints["Logits"] = self.logits_layer()(x)
        return x

    def logits_layer(self) -> nn.Dense:
        return nn.Dense(
            self.num_classes, kernel_init=linear_init, dtype=self.dtype, param_dtype=self.param_dtype, name="Logits"
        )

    def block(self, x, train: bool, endpoints: dict, block_class, *args, name: str, **kwargs):
        """Builds and applies a top-level block, recording its output under `name`."""
        if self.remat not in REMAT_POLICIES:
            raise ValueError(f"remat={self.remat!r}; choose one of {', '.join(REMAT_POLICIES)}.")
        if self.remat == "block":
            block_class = nn.remat(block_class, static_argnums=(2,))  # (self, x, train): train is static
        x = endpoints[name] = block_class(*args, name=name, **kwargs)(x, train)
        return x

    def aux(self, x, train: bool, endpoints: dict) -> None:
        """Records auxiliary logits computed from `x` when the aux head is on and its output can be used."""
        if self.aux_head and self.num_classes and wants_aux(self, train):
            endpoints["AuxLogits"] = AuxHead(self.opts, self.num_classes, name="AuxLogits")(x, train)
