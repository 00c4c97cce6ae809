"""What is in these photos? The top classes of a pretrained classifier, each image prepared as its weights expect.

    from inception_jax import predict
    for prediction in predict.predictions("inception_v4.tf_in1k", ["photo.jpg", "photos/"], top_k=3):
        print(prediction["path"], prediction["top_k"][0]["name"])

`weights` is a named weight (`inception_jax.pretrained.list_pretrained()`, downloaded once and cached, or
`hf-hub:ORG/REPO`) or a directory of converted weights. Each path is an image or a folder of images (its image
files, sorted by name). Every image is decoded and prepared as the weights' spec says (size, crop, resize,
mean/std) by the evaluation's own preprocessing (`inception_jax.data.preprocessing`). Outputs are named by
ImageNet-1k's classes (`inception_jax.imagenet`) for 1000-, 1001- (slim) and 1008-way (the 2015 graph)
classifiers; other classifiers' outputs are numbered. The command line is `python -m inception_jax.predict`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import jax
import numpy as np
import tensorflow as tf

from inception_jax import imagenet, pretrained
from inception_jax.data import preprocessing

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def image_paths(paths: Sequence[str | os.PathLike]) -> list[str]:
    """The images of `paths`: each an image file, or a folder whose image files are taken, sorted by name."""
    found = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            names = sorted(name for name in os.listdir(path) if name.lower().endswith(IMAGE_EXTENSIONS))
            found += [os.path.join(path, name) for name in names]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder.")
    if not found:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in {', '.join(map(os.fspath, paths))}.")
    return found


def load_classifier(weights: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """`(module, variables, spec)` of a named weight (kept in `cache_dir`, see `pretrained.load`) or of a
    converted-weights directory."""
    return pretrained.load_named_or_directory(weights, cache_dir=cache_dir)


def ranked_outputs(probabilities: np.ndarray, top_k: int) -> list[dict]:
    """The `top_k` most probable outputs of one image's `probabilities`, each with its ImageNet-1k class (index,
    synset, name) where the classifier's width has one, else numbered."""
    classes = probabilities.shape[-1]
    named = classes in (1000, 1001, imagenet.NUM_CLASSES_OF_2015_GRAPH)
    names = imagenet.class_names(classes) if named else None
    synsets, _ = imagenet.synsets_and_names()
    ranked = []
    for output in np.argsort(-probabilities, kind="stable")[:top_k]:
        index = imagenet.imagenet_index(int(output), classes) if named else None
        ranked.append(
            {
                "output": int(output),
                "imagenet_index": index,
                "synset": None if index is None else synsets[index],
                "name": names[output] if named else f"class {output}",
                "probability": float(probabilities[output]),
            }
        )
    return ranked


def predictions(
    weights: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    top_k: int = 5,
    batch_size: int = 16,
    cache_dir: str | os.PathLike | None = None,
) -> Iterator[dict]:
    """Per image, as each batch of `batch_size` is computed: `{"path", "top_k": [{"output", "imagenet_index",
    "synset", "name", "probability"}, ...]}`, most probable first. The last batch is padded to `batch_size`, so
    the network compiles once. Named weights are kept in `cache_dir` (default: `pretrained.load`'s)."""
    module, variables, spec = load_classifier(weights, cache_dir)
    if not spec.num_classes:
        raise ValueError(f"{weights} has no classifier (its spec's num_classes is {spec.num_classes}).")
    forward = jax.jit(lambda images: jax.nn.softmax(module.apply(variables, images, train=False).astype(np.float32)))
    files = image_paths(paths)
    for start in range(0, len(files), batch_size):
        batch = files[start : start + batch_size]
        images = np.stack([prepared_image(path, spec.input) for path in batch])
        padding = np.repeat(images[-1:], batch_size - len(batch), axis=0)
        probabilities = np.asarray(forward(np.concatenate([images, padding])))
        for path, row in zip(batch, probabilities, strict=False):
            yield {"path": path, "top_k": ranked_outputs(row, top_k)}


def predict(
    weights: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    top_k: int = 5,
    batch_size: int = 16,
    cache_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """Every image's prediction (`predictions`), as a list."""
    return list(predictions(weights, paths, top_k, batch_size, cache_dir))


def prepared_image(path: str, input_spec) -> np.ndarray:
    """One image file, decoded and prepared as the evaluation prepares it for `input_spec`: float32 [S, S, 3]."""
    with open(path, "rb") as file:
        encoded = file.read()
    try:
        image = preprocessing.decode_rgb(encoded)
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(
            f"{path} does not decode as an image ({error.message.strip()}). Remove it or fix it."
        ) from None
    return np.asarray(preprocessing.preprocess_for_eval(image, input_spec))
