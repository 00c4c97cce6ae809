"""Scores networks and ensembles: softmax averaged over an image's views (and an ensemble's members), top-1/top-5.

Every network runs once per batch, on the views prepared as its own spec says; an ensemble averages its members'
view-averaged probabilities, so a table of several networks and their ensemble costs one pass over the data.
Counts are the trainer's (`steps.hit_counts`), summed over unmasked images on the mesh, so every process gets the
same totals.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import jax
import jax.numpy as jnp
import ml_collections

from inception_jax.data import pipeline
from inception_jax.evaluation import inputs
from inception_jax.evaluation.networks import LoadedNetwork
from inception_jax.spec import InputSpec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.mesh import host_value
from inception_jax.train.metrics import create_progress
from inception_jax.train.steps import hit_counts

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
    inputs: tuple[InputSpec, ...] = ()  # How each member's images were prepared.

    @property
    def top1_error(self) -> float:
        return 1.0 - self.top1

    @property
    def top5_error(self) -> float:
        return 1.0 - self.top5

    def to_json(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "members": list(self.members),
            "top1_error": self.top1_error,
            "top5_error": self.top5_error,
            "inputs": [dataclasses.asdict(spec) for spec in self.inputs],
        }


def view_averaged_log_probabilities(model, variables, views: jax.Array) -> jax.Array:
    """[B, V, S, S, 3] views -> [B, classes] log of the softmax probabilities averaged over each image's V views.

    Kept in log space so that the ranking of confident networks does not tie at probabilities 0 and 1; with one
    view it is exactly the trainer's `log_softmax(logits)`.
    """
    images, num_views = views.shape[:2]
    logits = model.apply(variables, views.reshape(images * num_views, *views.shape[2:]), train=False)
    log_probabilities = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(images, num_views, -1)
    return log_mean_exp(log_probabilities, axis=1)


def log_mean_exp(log_values: jax.Array, axis: int) -> jax.Array:
    """log(mean(exp(x))) along `axis`; exactly x when that axis has one entry."""
    count = log_values.shape[axis]
    averaged = jax.scipy.special.logsumexp(log_values, axis=axis)
    return averaged if count == 1 else averaged - jnp.log(count)


@jax.jit
def ensemble_average(member_log_probabilities: list[jax.Array]) -> jax.Array:
    """The log of the mean of the members' [B, classes] probabilities."""
    return log_mean_exp(jnp.stack(member_log_probabilities), axis=0)


count_hits = jax.jit(hit_counts)


def score(
    entries: list[Entry],
    input_config: ml_collections.ConfigDict,
    crops: int,
    mesh: jax.sharding.Mesh,
    max_examples: int | None = None,
) -> list[Result]:
    """One pass over the eval split with `crops` views per image; a `Result` per entry, in order."""
    networks = list({id(network): network for entry in entries for network in entry.members}.values())
    # Views are prepared once per distinct input spec, and each network reads its own spec's.
    specs = list(dict.fromkeys(network.spec.input for network in networks))
    # One jitted function per module, shared by its raw and EMA variables.
    predict = {}
    for network in networks:
        predict.setdefault(network.model, jax.jit(functools.partial(view_averaged_log_probabilities, network.model)))
    total = pipeline.num_eval_examples(input_config, max_examples)
    logging.info("%d-crop evaluation of %d networks on %d images", crops, len(networks), total)
    progress, done = create_progress(total, every_secs=PROGRESS_EVERY_S), 0  # its "steps" are images
    sums = [None] * len(entries)
    batches = inputs.multiview_batches(input_config, specs, crops, mesh_lib.batch_sharding(mesh), max_examples)
    for batch in batches:
        previous = list(sums)
        probabilities = {
            id(network): predict[network.model](network.variables, batch["views"][specs.index(network.spec.input)])
            for network in networks
        }
        for index, entry in enumerate(entries):
            members = [probabilities[id(network)] for network in entry.members]
            averaged = members[0] if len(members) == 1 else ensemble_average(members)
            counts = count_hits(averaged, batch["label"], batch["mask"])
            sums[index] = counts if sums[index] is None else jax.tree.map(jnp.add, sums[index], counts)
        # Waiting for the previous batch bounds the device memory of queued batches and keeps progress honest.
        jax.block_until_ready(previous)
        done = min(total, done + batch["mask"].shape[0])
        progress(done)
    results = []
    for entry, entry_sums in zip(entries, sums):
        top1, top5, count = (float(host_value(entry_sums[key])) for key in ("top1", "top5", "count"))
        results.append(
            Result(
                entry.name,
                crops,
                tuple(network.name for network in entry.members),
                top1 / count,
                top5 / count,
                int(count),
                tuple(network.spec.input for network in entry.members),
            )
        )
    return results
