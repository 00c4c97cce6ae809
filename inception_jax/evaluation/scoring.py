"""Scores networks and ensembles: softmax averaged over an image's views (and an ensemble's members), top-1/top-5.

Every network runs once per batch; an ensemble averages its members' view-averaged probabilities, so a table
of several networks and their ensemble costs one pass over the data. Counts are sums over unmasked images,
made on the mesh like the trainer's evaluation, so every process gets the same totals.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import time

import jax
import jax.numpy as jnp
import ml_collections

from inception_jax.evaluation import inputs
from inception_jax.evaluation.networks import LoadedNetwork
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.trainer import host_value

PROGRESS_EVERY_S = 10.0


@dataclasses.dataclass(frozen=True)
class Entry:
    """A row of the results table: one network, or the ensemble of several."""

    name: str
    members: tuple[LoadedNetwork, ...]


@dataclasses.dataclass(frozen=True)
class Result:
    """The accuracy of one entry at one crop count."""

    network: str
    crops: int
    members: tuple[str, ...]
    top1: float  # Accuracy in [0, 1], as the trainer's `eval/top1`.
    top5: float
    count: int  # Images evaluated.

    @property
    def top1_error(self) -> float:
        return 1.0 - self.top1

    @property
    def top5_error(self) -> float:
        return 1.0 - self.top5

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "members": list(self.members), "top1_error": self.top1_error,
                "top5_error": self.top5_error}


def view_averaged_probabilities(model, variables, views: jax.Array) -> jax.Array:
    """[B, V, S, S, 3] views -> [B, classes] softmax probabilities averaged over each image's V views."""
    images, num_views = views.shape[:2]
    logits = model.apply(variables, views.reshape(images * num_views, *views.shape[2:]), train=False)
    probabilities = jax.nn.softmax(logits.astype(jnp.float32))
    return probabilities.reshape(images, num_views, -1).mean(axis=1)


@jax.jit
def ensemble_average(member_probabilities: list[jax.Array]) -> jax.Array:
    """The mean of the members' [B, classes] probabilities."""
    return jnp.mean(jnp.stack(member_probabilities), axis=0)


@jax.jit
def hit_counts(probabilities: jax.Array, labels: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
    """Top-1 and top-5 hits and images, summed over unmasked rows (top-k is capped at the class count)."""
    ranked = jax.lax.top_k(probabilities, min(5, probabilities.shape[-1]))[1]
    mask = mask.astype(jnp.float32)
    return {"top1": jnp.sum((ranked[:, 0] == labels) * mask),
            "top5": jnp.sum(jnp.any(ranked == labels[:, None], axis=-1) * mask), "count": jnp.sum(mask)}


def score(entries: list[Entry], input_config: ml_collections.ConfigDict, crops: int, mesh: jax.sharding.Mesh,
          max_examples: int | None = None) -> list[Result]:
    """One pass over the eval split with `crops` views per image; a `Result` per entry, in order."""
    networks = list({id(network): network for entry in entries for network in entry.members}.values())
    # One jitted function per module, shared by its raw and EMA variables. (Modules rebuilt from a JSON config
    # hold lists, so they cannot be static arguments of a single jitted function.)
    predict = {}
    for network in networks:
        predict.setdefault(id(network.model), jax.jit(functools.partial(view_averaged_probabilities, network.model)))
    total = inputs.num_images(input_config, max_examples)
    progress = _Progress(total, crops)
    sums = [None] * len(entries)
    for batch in inputs.multiview_batches(input_config, crops, mesh_lib.batch_sharding(mesh), max_examples):
        previous = list(sums)
        probabilities = {id(network): predict[id(network.model)](network.variables, batch["views"])
                         for network in networks}
        for index, entry in enumerate(entries):
            members = [probabilities[id(network)] for network in entry.members]
            averaged = members[0] if len(members) == 1 else ensemble_average(members)
            counts = hit_counts(averaged, batch["label"], batch["mask"])
            sums[index] = counts if sums[index] is None else jax.tree.map(jnp.add, sums[index], counts)
        # Waiting for the previous batch bounds the device memory of queued batches and keeps progress honest.
        jax.block_until_ready(previous)
        progress.advance(batch["mask"].shape[0])
    progress.finish()
    results = []
    for entry, entry_sums in zip(entries, sums):
        top1, top5, count = (float(host_value(entry_sums[key])) for key in ("top1", "top5", "count"))
        results.append(Result(entry.name, crops, tuple(network.name for network in entry.members),
                              top1 / count, top5 / count, int(count)))
    return results


class _Progress:
    """Logs images done / total and images per second, at most every PROGRESS_EVERY_S seconds."""

    def __init__(self, total: int, crops: int):
        self.total, self.crops, self.done = total, crops, 0
        self.start = self.last_report = time.perf_counter()

    def advance(self, images: int) -> None:
        self.done = min(self.total, self.done + images)
        if time.perf_counter() - self.last_report >= PROGRESS_EVERY_S:
            self._report()

    def finish(self) -> None:
        self._report()

    def _report(self) -> None:
        self.last_report = time.perf_counter()
        rate = self.done / max(self.last_report - self.start, 1e-9)
        logging.info("%d-crop evaluation: %d/%d images (%.0f%%), %.1f images/s (%.0f views/s)", self.crops,
                     self.done, self.total, 100 * self.done / max(self.total, 1), rate, rate * self.crops)
