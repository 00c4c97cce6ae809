"""ADM's evaluator (guided-diffusion's `evaluations/evaluator.py`): Inception Score, FID, sFID, precision and recall
of a sample batch against a reference batch, each by ADM's protocol.

    metrics = inception_jax.fid.adm.evaluate("VIRTUAL_imagenet256_labeled.npz", "samples.npz")
    # {"Inception Score": ..., "FID": ..., "sFID": ..., "Precision": ..., "Recall": ...}

The batches are ADM's `.npz` files: images in `arr_0` (streamed), and for a reference batch its statistics beside
them (`mu`, `sigma`, `mu_s`, `sigma_s`), used when present as ADM uses them. Images are fed to the 2015 graph as ADM
feeds it: [0, 255] floats resized by TensorFlow 1's bilinear kernel, then (x − 128) / 128 (`resize="tensorflow"`).
The Inception Score needs the graph's classifier (pytorch-fid's and NVlabs' files carry it): ADM's logits are the
pool features times its weights, without the bias.
"""

from __future__ import annotations

import os

import numpy as np

from inception_jax.fid import distance, extract, inputs, scores

RESIZE = "tensorflow"
STATISTICS = ("mu", "sigma", "mu_s", "sigma_s")


def activations(path: str | os.PathLike, extractor: extract.Extractor, batch_size: int) -> tuple[np.ndarray, ...]:
    """(pool [N, 2048], spatial [N, 2023]) features of the images in `arr_0` of the `.npz` at `path`, from one pass
    of an extractor of "pool+spatial" features."""
    stream = inputs.stream_npz_array(path, inputs.ADM_IMAGES)
    both = np.concatenate(list(extract.features(stream, extractor, RESIZE, batch_size)))
    return both[:, : extract.POOL_FEATURES], both[:, extract.POOL_FEATURES :]


def stored_statistics(path: str | os.PathLike) -> tuple[tuple, tuple] | None:
    """((mu, sigma), (mu_s, sigma_s)) stored in a reference batch, or None."""
    with np.load(path) as arrays:
        if not set(STATISTICS) <= set(arrays.files):
            return None
        return (arrays["mu"], arrays["sigma"]), (arrays["mu_s"], arrays["sigma_s"])


def batch_statistics(
    path: str | os.PathLike, weights: str | os.PathLike | None = None, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """`mu`, `sigma` (pool features) and `mu_s`, `sigma_s` (spatial) of a batch's images, as ADM's reference
    batches store them."""
    pool, spatial = activations(path, extract.load_extractor(weights, features="pool+spatial"), batch_size)
    (mu, sigma), (mu_s, sigma_s) = distance.statistics(pool), distance.statistics(spatial)
    return {"mu": mu, "sigma": sigma, "mu_s": mu_s, "sigma_s": sigma_s}


def evaluate(
    reference: str | os.PathLike,
    samples: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """ADM's five numbers for the sample batch against the reference batch."""
    extractor = extract.load_extractor(weights, features="pool+spatial")
    extractor.require_classifier()  # before any image is read
    reference_pool, reference_spatial = activations(reference, extractor, batch_size)
    sample_pool, sample_spatial = activations(samples, extractor, batch_size)
    reference_stats = stored_statistics(reference) or (
        distance.statistics(reference_pool),
        distance.statistics(reference_spatial),
    )
    logits = extractor.unbiased_logits(sample_pool)
    precision, recall = scores.precision_recall(reference_pool, sample_pool, protocol="adm")
    return {
        "Inception Score": scores.inception_score(logits, protocol="adm")[0],
        "FID": distance.frechet_distance(*distance.statistics(sample_pool), *reference_stats[0]),
        "sFID": distance.frechet_distance(*distance.statistics(sample_spatial), *reference_stats[1]),
        "Precision": precision,
        "Recall": recall,
    }
