"""ImageNet-1k's classes: synset ids in the order every 1000-way classifier here uses (the sorted synsets, as
TFDS's `imagenet2012` labels them), and their names.

    imagenet.class_names(1000)[0]     # "tench, Tinca tinca"
    imagenet.class_names(1001)[1]     # the same class behind slim's "background" output 0

The names are timm's `imagenet_synset_to_lemma.txt` (timm 1.0.31), kept in `imagenet_classes.txt` beside this file.
"""

from __future__ import annotations

import functools
import pathlib

CLASSES_FILE = pathlib.Path(__file__).with_name("imagenet_classes.txt")
BACKGROUND = "background"  # output 0 of slim's 1001-way classifiers


@functools.cache
def synsets_and_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The 1000 classes' synset ids (`n01440764`, ...) and names, in classifier order."""
    rows = [line.rstrip("\n").split("\t", 1) for line in CLASSES_FILE.read_text().splitlines() if line]
    return tuple(row[0] for row in rows), tuple(row[1] for row in rows)


def class_names(num_classes: int) -> tuple[str, ...]:
    """The name of each output of a `num_classes`-way ImageNet classifier.

    1000: ImageNet-1k's classes. 1001: slim's and Keras' older releases, whose output 0 is a background class and
    output k + 1 is ImageNet-1k's class k.
    """
    _, names = synsets_and_names()
    if num_classes == 1000:
        return names
    if num_classes == 1001:
        return (BACKGROUND, *names)
    raise ValueError(
        f"A {num_classes}-way classifier has no ImageNet-1k class names here: 1000- and 1001-way ones do. (The 2015 "
        "graph's 1008 outputs follow its own label map, which the library does not ship.)"
    )


def imagenet_index(output: int, num_classes: int) -> int | None:
    """ImageNet-1k's class index of a classifier's `output` (None for slim's background output)."""
    offset = num_classes - 1000
    return None if output < offset else output - offset
