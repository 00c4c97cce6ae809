"""Inception Score and precision/recall, each by the protocol of the tool whose numbers papers report.

    mean, std = fid.inception_score(logits)                                    # torch-fidelity's 10 splits
    mean, _ = fid.inception_score(logits, protocol="adm")                      # ADM's splits of 5,000
    precision, recall = fid.precision_recall(real_features, fake_features)     # k = 3

Inception Score (Salimans et al. 2016) is exp(E[KL(p(y|x) ‖ p(y))]) over the 2015 graph's 1008-way outputs, per
split; precision and recall (Kynkäänniemi et al. 2019) count the samples of one set inside the union of the other
set's k-nearest-neighbour balls.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("torch_fidelity", "adm")
ADM_SPLIT_SIZE = 5000
TORCH_FIDELITY_SHUFFLE_SEED = 2020


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r}; choose one of {', '.join(PROTOCOLS)}.")


def inception_score(logits, splits: int = 10, protocol: str = "torch_fidelity") -> tuple[float, float]:
    """(mean, std) of the Inception Score of [N, classes] `logits`.

    - "torch_fidelity": the rows shuffled by `np.random.RandomState(2020)`, softmax in float64, `splits` equal
      parts, the mean and (population) std of the parts' scores.
    - "adm" (guided-diffusion's evaluator): unshuffled parts of 5,000 rows (`splits` is not used), the mean of
      their scores; std is returned as the parts' std. ADM's logits are the pool features times the graph's
      classifier weights, without its bias.
    """
    _check_protocol(protocol)
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [N, classes]; got shape {logits.shape}.")
    count = len(logits)
    if protocol == "torch_fidelity":
        if count < splits:
            raise ValueError(f"{count} images cannot make {splits} splits; lower splits or add images.")
        logits = logits[np.random.RandomState(TORCH_FIDELITY_SHUFFLE_SEED).permutation(count)]
        bounds = [(i * count // splits, (i + 1) * count // splits) for i in range(splits)]
    else:
        bounds = [(start, min(start + ADM_SPLIT_SIZE, count)) for start in range(0, count, ADM_SPLIT_SIZE)]
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    scores = []
    for start, stop in bounds:
        part = log_p[start:stop]
        log_marginal = np.log(np.exp(part).mean(axis=0, keepdims=True))
        scores.append(float(np.exp((np.exp(part) * (part - log_marginal)).sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _distances(first: np.ndarray, second: np.ndarray, protocol: str, batch: int = 4096) -> np.ndarray:
    """[len(first), len(second)]: Euclidean distances in float64 (torch-fidelity), or squared distances by
    ‖a‖² − 2a·b + ‖b‖² in float32, clipped at 0 (ADM)."""
    if protocol == "torch_fidelity":
        first, second = first.astype(np.float64), second.astype(np.float64)
    else:
        first, second = first.astype(np.float32), second.astype(np.float32)
    rows = []
    second_norms = (second * second).sum(axis=1)
    for start in range(0, len(first), batch):
        block = first[start : start + batch]
        squared = (block * block).sum(axis=1)[:, None] - 2 * block @ second.T + second_norms[None, :]
        squared = np.maximum(squared, 0)
        rows.append(np.sqrt(squared) if protocol == "torch_fidelity" else squared)
    return np.concatenate(rows)


def precision_recall(real_features, fake_features, k: int = 3, protocol: str = "torch_fidelity") -> tuple[float, float]:
    """(precision, recall): the share of fake samples inside any real sample's ball, and of real samples inside any
    fake sample's ball, each ball reaching its centre's k-th nearest neighbour in its own set.

    "torch_fidelity" compares Euclidean distances; "adm" squared ones computed in float32 as guided-diffusion's
    evaluator does. They differ only where rounding moves a distance across a radius.
    """
    _check_protocol(protocol)
    real, fake = np.asarray(real_features), np.asarray(fake_features)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] with the same D; got {real.shape} and {fake.shape}.")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"k={k} needs more than {k} samples in each set; got {len(real)} and {len(fake)}.")

    def radii(features: np.ndarray) -> np.ndarray:  # index k: the k-th neighbour (index 0 is the sample itself)
        return np.partition(_distances(features, features, protocol), k, axis=1)[:, k]

    real_radii, fake_radii = radii(real), radii(fake)
    real_to_fake = _distances(real, fake, protocol)
    precision = (real_to_fake <= real_radii[:, None]).any(axis=0).mean()
    recall = (real_to_fake <= fake_radii[None, :]).any(axis=1).mean()
    return float(precision), float(recall)
