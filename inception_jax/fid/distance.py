"""The distances between two sets of Inception features, in float64: FID (Heusel et al. 2017) and KID (Bińkowski
et al. 2018), computed as pytorch-fid's `calculate_frechet_distance` and clean-fid's `kernel_distance` do."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from scipy import linalg


class KernelDistance(NamedTuple):
    """KID: the mean of the unbiased MMD² over the subsets, and its standard deviation over them."""

    mean: float
    std: float


class RunningStatistics:
    """The mean and covariance of feature rows added batch by batch, in float64, holding no more than one batch.

    Batches are merged as they come (Chan et al.'s pairwise update of the mean and the centred scatter); the result
    equals `np.mean(x, 0)` and `np.cov(x, rowvar=False)` (ddof 1) of all rows.
    """

    def __init__(self):
        self.count, self.mean, self.scatter = 0, None, None

    def add(self, batch) -> None:
        """Adds the rows of a [B, D] batch."""
        batch = np.asarray(batch, np.float64)
        if batch.ndim != 2:
            raise ValueError(f"features must be [N, D] arrays; got shape {batch.shape}.")
        if not len(batch):
            return
        batch_mean = batch.mean(axis=0)
        centred = batch - batch_mean
        if self.count == 0:
            self.count, self.mean, self.scatter = len(batch), batch_mean, centred.T @ centred
            return
        total = self.count + len(batch)
        delta = batch_mean - self.mean
        self.scatter = self.scatter + centred.T @ centred + np.outer(delta, delta) * (self.count * len(batch) / total)
        self.mean = self.mean + delta * (len(batch) / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """`(mu, sigma)` of every row added."""
        if self.count < 2:
            raise ValueError(f"statistics need at least 2 feature vectors; got {self.count}.")
        return self.mean, self.scatter / (self.count - 1)


def statistics(features: np.ndarray | Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`(mu, sigma)` of [N, D] features, or of the [B, D] batches an iterable yields, in float64, merged as they come
    (`RunningStatistics`)."""
    if isinstance(features, np.ndarray) or hasattr(features, "__array__"):
        features = [features]
    running = RunningStatistics()
    for batch in features:
        running.add(batch)
    return running.result()


FRECHET_METHODS = ("sqrtm", "eigh")


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, method: str = "sqrtm") -> float:
    """‖mu1 − mu2‖² + Tr(sigma1 + sigma2 − 2 (sigma1 sigma2)^½).

    Methods of the trace of the square root:
    - "sqrtm" (default), as pytorch-fid computes it: `scipy.linalg.sqrtm` of the product. When that root is not
      finite (a singular product: fewer images than feature dimensions), `eps` is added to both diagonals and the
      root taken again; a small imaginary part from rounding is dropped, a large one (over 1e-3 on the diagonal)
      raises.
    - "eigh": from symmetric eigendecompositions. sigma1 sigma2 has the eigenvalues of the symmetric
      √sigma1 sigma2 √sigma1, so the trace is the sum of their square roots, each clipped at zero first. About 5x
      faster at 2,048 dimensions, with no complex arithmetic and no `eps`: singular covariances (fewer images
      than dimensions) give the exact trace of their product's root, where "sqrtm" gives that of the offset
      product. On full-rank covariances the two agree to about 1e-15 relative.
    """
    if method not in FRECHET_METHODS:
        raise ValueError(f"method={method!r}; choose one of {', '.join(FRECHET_METHODS)}.")
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"The statistics differ in shape: mu {mu1.shape} and {mu2.shape}, sigma {sigma1.shape} and "
            f"{sigma2.shape}; compute both with the same network and endpoint."
        )
    diff = mu1 - mu2
    root_trace = _root_trace_eigh(sigma1, sigma2) if method == "eigh" else _root_trace_sqrtm(sigma1, sigma2, eps)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * root_trace)


def _root_trace_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        logging.warning("FID: the covariance product is singular; adding %g to the diagonals", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: the square root has an imaginary component of {np.abs(covmean.imag).max():g}.")
        covmean = covmean.real
    return float(np.trace(covmean))


def _root_trace_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = root1 @ sigma2 @ root1
    inner = (inner + inner.T) / 2  # symmetric but for rounding
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum())


def kernel_inception_distance(
    features1, features2, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> KernelDistance:
    """KID: the unbiased MMD² with the cubic kernel k(x, y) = (x·y / d + 1)³, over `num_subsets` random subsets of
    min(N1, N2, `max_subset_size`) rows of each set, as clean-fid's `kernel_distance` computes it.

    Subsets are drawn by `np.random.RandomState(seed)` in clean-fid's order (set 2, then set 1), so clean-fid after
    `np.random.seed(seed)` draws the same ones. With sets no larger than `max_subset_size` every subset is a whole
    set, and the value does not depend on the seed.
    """
    features1, features2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    dim = features1.shape[1]
    size = min(len(features1), len(features2), max_subset_size)
    if size < 2:
        raise ValueError(
            f"KID needs at least 2 feature vectors in each set; got {len(features1)} and {len(features2)}."
        )
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(num_subsets):
        x = features2[rng.choice(len(features2), size, replace=False)]
        y = features1[rng.choice(len(features1), size, replace=False)]
        within = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3
        across = (x @ y.T / dim + 1) ** 3
        values.append((within.sum() - np.trace(within)) / (size * (size - 1)) - 2 * across.mean())
    return KernelDistance(float(np.mean(values)), float(np.std(values)))
