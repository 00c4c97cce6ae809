"""What is in these photos? The top classes of a pretrained network, each image prepared as its weights expect.

    python -m inception_jax.predict --weights=inception_v4.tf_in1k photo.jpg
    python -m inception_jax.predict --weights=weights/inception_resnet_v2 --top_k=3 photos/ --json=predictions.json

--weights is a named weight (`inception_jax.pretrained.list_pretrained()`, downloaded once and cached, or
`hf-hub:ORG/REPO`) or a directory of converted weights. Each PATH is an image or a folder of images (its image
files, sorted by name). Every image is decoded and prepared exactly as the weights' spec says (size, crop, resize,
mean/std), by the evaluation's own preprocessing. 1000-way classifiers print ImageNet-1k's class names; slim's
1001-way ones are mapped onto them (their output 0 is "background"); other classifiers print class indices.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np
from absl import app, flags

from inception_jax import cli, imagenet, pretrained
from inception_jax.data import preprocessing
from inception_jax.weights import load_weights

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")

flags.DEFINE_string("weights", None, "A named weight (see inception_jax.pretrained) or a converted-weights directory.")
flags.DEFINE_integer("top_k", 5, "How many classes to print per image.")
flags.DEFINE_string("json", None, "Also write the predictions to this JSON file.")
FLAGS = flags.FLAGS


def image_paths(paths: list[str]) -> list[str]:
    """The images of `paths`: each an image file, or a folder whose image files are taken, sorted by name."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(name for name in os.listdir(path) if name.lower().endswith(IMAGE_EXTENSIONS))
            found += [os.path.join(path, name) for name in names]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder.")
    if not found:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in {', '.join(paths)}.")
    return found


def predict(weights: str, paths: list[str], top_k: int = 5) -> list[dict]:
    """Per image: `{"path", "top_k": [{"output", "imagenet_index", "synset", "name", "probability"}, ...]}`."""
    module, variables, spec = pretrained.load(weights) if pretrained.is_named(weights) else load_weights(weights)
    classes = spec.num_classes
    names = imagenet.class_names(classes) if classes in (1000, 1001) else None
    synsets, _ = imagenet.synsets_and_names()
    forward = jax.jit(lambda images: jax.nn.softmax(module.apply(variables, images, train=False).astype(np.float32)))
    results = []
    for path in image_paths(paths):
        with open(path, "rb") as file:
            image = preprocessing.preprocess_for_eval(preprocessing.decode_rgb(file.read()), spec.input)
        probabilities = np.asarray(forward(np.asarray(image)[None]))[0]
        ranked = []
        for output in np.argsort(-probabilities, kind="stable")[:top_k]:
            index = imagenet.imagenet_index(int(output), classes) if names else None
            ranked.append(
                {
                    "output": int(output),
                    "imagenet_index": index,
                    "synset": synsets[index] if index is not None else None,
                    "name": names[output] if names else f"class {output}",
                    "probability": float(probabilities[output]),
                }
            )
        results.append({"path": path, "top_k": ranked})
    return results


def main(argv: list[str]) -> None:
    cli.require("weights")
    if len(argv) < 2:
        raise app.UsageError("Give one or more images or folders of images.")
    results = predict(FLAGS.weights, argv[1:], FLAGS.top_k)
    for result in results:
        print(result["path"])
        for rank, entry in enumerate(result["top_k"], 1):
            print(f"  {rank}. {entry['probability']:.4f}  {entry['name']}  (output {entry['output']})")
    if FLAGS.json:
        with open(FLAGS.json, "w") as file:
            json.dump({"weights": FLAGS.weights, "predictions": results}, file, indent=2)


if __name__ == "__main__":
    cli.run(main)
