"""ImageNet-1k's classes: synset ids in the order every 1000-way classifier here uses (the sorted synsets, as
TFDS's `imagenet2012` labels them), their names, and where other classifiers put them.

    imagenet.class_names(1000)[0]     # "tench, Tinca tinca"
    imagenet.class_names(1001)[1]     # the same class behind slim's "background" output 0
    imagenet.imagenet_index(449, 1008)  # 0: the 2015 graph's output 449 is the tench

Kept beside this file:
- `imagenet_classes.txt`: synset and name per class, the names being timm's `imagenet_synset_to_lemma.txt`
  (timm 1.0.31);
- `imagenet_2015_graph_outputs.txt`: the 2015 Inception-v3 graph's output and its synset, from the label map
  that graph shipped with (`imagenet_2012_challenge_label_map_proto.pbtxt` in TensorFlow's
  `inception-2015-12-05.tgz`). Its outputs 1 to 1000 are the classes in another order; 0 and 1001–1007 are none.
"""

from __future__ import annotations

import functools
import pathlib

CLASSES_FILE = pathlib.Path(__file__).with_name("imagenet_classes.txt")
GRAPH_2015_FILE = pathlib.Path(__file__).with_name("imagenet_2015_graph_outputs.txt")
BACKGROUND = "background"  # output 0 of slim's 1001-way classifiers
UNUSED = "unused"  # the 2015 graph's outputs that its label map leaves out
NUM_CLASSES_OF_2015_GRAPH = 1008


@functools.cache
def synsets_and_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The 1000 classes' synset ids (`n01440764`, ...) and names, in classifier order."""
    rows = [line.split("\t", 1) for line in CLASSES_FILE.read_text().splitlines() if line]
    return tuple(row[0] for row in rows), tuple(row[1] for row in rows)


@functools.cache
def _indices_of_2015_graph() -> tuple[int | None, ...]:
    """ImageNet-1k's index of each of the 2015 graph's 1008 outputs (None where its label map has no class)."""
    index_of = {synset: index for index, synset in enumerate(synsets_and_names()[0])}
    indices: list[int | None] = [None] * NUM_CLASSES_OF_2015_GRAPH
    for line in GRAPH_2015_FILE.read_text().splitlines():
        output, synset = line.split("\t")
        indices[int(output)] = index_of[synset]
    return tuple(indices)


def imagenet_index(output: int, num_classes: int) -> int | None:
    """ImageNet-1k's class index of a `num_classes`-way classifier's `output`; None for outputs of no class
    (slim's background output 0, the 2015 graph's unused ones)."""
    if num_classes == 1000:
        return output
    if num_classes == 1001:
        return None if output == 0 else output - 1
    if num_classes == NUM_CLASSES_OF_2015_GRAPH:
        return _indices_of_2015_graph()[output]
    raise ValueError(
        f"A {num_classes}-way classifier has no ImageNet-1k classes here: 1000-way ones (timm, torchvision, Keras), "
        "slim's 1001-way ones and the 2015 graph's 1008-way one do."
    )


def class_names(num_classes: int) -> tuple[str, ...]:
    """The name of each output of a `num_classes`-way ImageNet classifier (1000, 1001 or 1008 outputs)."""
    _, names = synsets_and_names()
    empty = BACKGROUND if num_classes == 1001 else UNUSED
    indices = (imagenet_index(output, num_classes) for output in range(num_classes))
    return tuple(empty if index is None else names[index] for index in indices)
