"""What is in these photos? The top classes of a pretrained classifier, each image prepared as its weights expect.

    python -m inception_jax.predict --weights=inception_v4.tf_in1k photo.jpg
    python -m inception_jax.predict --weights=weights/inception_resnet_v2 --top_k=3 photos/ --json=predictions.json

--weights is a named weight (`inception_jax.pretrained.list_pretrained()`, downloaded once and cached, or
`hf-hub:ORG/REPO`) or a directory of converted weights. Each PATH is an image or a folder of images (its image
files, sorted by name). Every image is decoded and prepared exactly as the weights' spec says, by the evaluation's
own preprocessing. 1000-way classifiers print ImageNet-1k's class names; slim's 1001-way ones and the 2015 graph's
1008-way one are mapped onto them; other classifiers print output numbers.
"""

from __future__ import annotations

import json

from absl import app, flags

from inception_jax import cli, predict

flags.DEFINE_string("weights", None, "A named weight (see inception_jax.pretrained) or a converted-weights directory.")
flags.DEFINE_integer("top_k", 5, "How many classes to print per image.")
flags.DEFINE_string("json", None, "Also write the predictions to this JSON file.")
flags.DEFINE_integer("batch_size", 16, "Images per forward pass.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    cli.require("weights")
    if len(argv) < 2:
        raise app.UsageError("Give one or more images or folders of images.")
    results = []
    for result in predict.predictions(FLAGS.weights, argv[1:], FLAGS.top_k, FLAGS.batch_size):
        print(result["path"])
        for rank, entry in enumerate(result["top_k"], 1):
            print(f"  {rank}. {entry['probability']:.4f}  {entry['name']}  (output {entry['output']})", flush=True)
        results.append(result)
    if FLAGS.json:
        with open(FLAGS.json, "w") as file:
            json.dump({"weights": FLAGS.weights, "predictions": results}, file, indent=2)


if __name__ == "__main__":
    cli.run(main)
