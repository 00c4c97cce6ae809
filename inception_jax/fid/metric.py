"""FID inside a JAX training loop: features of each batch where it lies, statistics on every process.

    metric = fid.FIDMetric(fid.load_extractor(mesh=mesh), reference=fid.read_input("ref_stats.npz")[1])
    for step in ...:
        samples = generate(params, rng)          # [B, H, W, 3] uint8 jax.Array, sharded on `mesh` (any processes)
        metric.update(samples)
    print(metric.compute())                      # the same number as `python -m inception_jax.fid` on those images
    metric.reset()

A sharded `jax.Array` is resized and run through the network on the devices that hold it; only the features
(2,048 floats per image) are gathered to every process, whose float64 statistics then agree. Host arrays go
through the offline path (`fid.features`), so the "clean" protocol (PIL's resize, on the host) works for them.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from inception_jax.fid import distance, extract
from inception_jax.fid import resize as resize_lib


class FIDMetric:
    """Running Inception statistics of generated images, and their FID against `reference`'s `(mu, sigma)`."""

    def __init__(
        self,
        extractor: extract.Extractor,
        reference: tuple[np.ndarray, np.ndarray] | None = None,
        resize: str = "pytorch_fid",
        method: str = "sqrtm",
    ):
        resize_lib.check_mode(resize)
        self.extractor, self.reference, self.resize, self.method = extractor, reference, resize, method
        self.running = distance.RunningStatistics()

    def update(self, images) -> None:
        """Adds a batch of [B, H, W, 3] uint8 images: a `jax.Array` on the extractor's mesh (B a multiple of its
        devices), or a host array of any B."""
        if isinstance(images, jax.Array):
            if images.dtype != np.uint8:
                raise ValueError(f"images must be uint8 [0, 255] pixels, as saved to disk; got {images.dtype}.")
            if self.resize == "clean":
                raise ValueError("resize='clean' resizes on the host with PIL: pass host arrays (np.asarray).")
            rows = multihost_utils.process_allgather(self.extractor(images, self.resize), tiled=True)
            self.running.add(np.asarray(rows))
            return
        for rows in extract.features(np.asarray(images), self.extractor, self.resize, batch_size=len(images)):
            self.running.add(rows)

    @property
    def count(self) -> int:
        """Images added since the last `reset`."""
        return self.running.count

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """`(mu, sigma)` of every image added."""
        return self.running.result()

    def compute(self) -> float:
        """FID of the images added against `reference`."""
        if self.reference is None:
            raise ValueError("FIDMetric needs reference=(mu, sigma) to compute FID; statistics() works without.")
        return distance.frechet_distance(*self.statistics(), *self.reference, method=self.method)

    def reset(self) -> None:
        self.running = distance.RunningStatistics()
