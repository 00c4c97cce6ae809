"""Converts pretrained weights into a directory that `inception_jax.artifacts.load_weights` reads.

    python -m inception_jax.convert --from=timm --model=inception_resnet_v2.tf_in1k \
        --input=model.safetensors --output=DIR
    python -m inception_jax.convert --from=keras --model=inception_resnet_v2 --input=model.weights.h5 --output=DIR
    python -m inception_jax.convert --from=slim --model=inception_v3 --input=inception_v3.ckpt --output=DIR
    python -m inception_jax.convert --from=torchvision --model=resnet50 --input=resnet50-0676ba61.pth --output=DIR

DIR receives the variables and `spec.json`: the network's name and options, and the input its source prepares
(timm: the weight's pretrained_cfg; torchvision: resize 256, centre 224, ImageNet mean/std; Keras and slim: the
central 87.5 percent, [-1, 1]). --image_size, --crop_fraction, --crop_mode, --interpolation, --mean and --std
override it. timm, torchvision: .safetensors, .pth or .bin files (read without PyTorch); Keras: .weights.h5 or
.h5 files; slim: a checkpoint prefix.
"""

from __future__ import annotations

from absl import app, flags

from inception_jax import cli
from inception_jax.convert import WeightMismatchError, from_keras, from_slim, from_timm, from_torchvision
from inception_jax.weights import save_weights

SOURCES = ("timm", "keras", "slim", "torchvision")

flags.DEFINE_enum("from", None, list(SOURCES), "Format of the weights.")
flags.DEFINE_string(
    "model",
    None,
    "timm: inception_v3, inception_v4, inception_resnet_v2, optionally with timm's "
    "weight tag (inception_v3.gluon_in1k); slim: inception_v3, inception_v4, inception_resnet_v2, "
    "bn_inception, googlenet; keras: inception_v3, inception_resnet_v2; torchvision: alexnet, vgg*, "
    "googlenet, resnet*.",
)
flags.DEFINE_string("input", None, "The weights file (slim: the checkpoint prefix).")
flags.DEFINE_string("output", None, "Directory to write the converted weights and spec.json to.")
flags.DEFINE_bool("keep_background", False, "slim only: keep the background class of 1001-class checkpoints.")
cli.define_input_spec_flags()
FLAGS = flags.FLAGS


def convert(source: str, model_name: str, path: str, keep_background: bool = False, input_overrides=None):
    """`(module, variables, spec)` converted from the weights at `path` in format `source`."""
    if source == "timm":
        return from_timm(model_name, path, input_overrides)
    if source == "keras":
        return from_keras(model_name, path, input_overrides)
    if source == "torchvision":
        return from_torchvision(model_name, path, input_overrides)
    return from_slim(model_name, path, keep_background=keep_background, input_overrides=input_overrides)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    cli.require("from", "model", "input", "output")
    source = FLAGS["from"].value
    if FLAGS.keep_background and source != "slim":
        raise app.UsageError("--keep_background applies to --from=slim only.")
    try:
        module, variables, spec = convert(
            source, FLAGS.model, FLAGS.input, FLAGS.keep_background, cli.input_spec_overrides()
        )
    except (WeightMismatchError, ValueError, ImportError, OSError) as error:
        raise SystemExit(f"Could not convert {FLAGS.input}: {error}") from None
    save_weights(FLAGS.output, spec, variables)
    print(f"Wrote {spec.model_name} to {FLAGS.output}; input: {spec.input}")


if __name__ == "__main__":
    cli.run(main)
