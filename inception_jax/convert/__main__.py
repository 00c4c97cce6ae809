"""Converts pretrained weights into a directory that `inception_jax.artifacts.load_weights` reads.

    python -m inception_jax.convert --from timm --model inception_resnet_v2.tf_in1k --input model.safetensors --output DIR
    python -m inception_jax.convert --from keras --model inception_resnet_v2 --input model.weights.h5 --output DIR
    python -m inception_jax.convert --from slim --model inception_v3 --input inception_v3.ckpt --output DIR
    python -m inception_jax.convert --from torchvision --model resnet50 --input resnet50-0676ba61.pth --output DIR

DIR receives the variables and `spec.json`: the network's name and options, and the input its source prepares
(timm: the weight's pretrained_cfg; torchvision: resize 256, centre 224, ImageNet mean/std; Keras and slim: the
central 87.5%, [-1, 1]). --image-size, --crop-fraction, --crop-mode, --interpolation, --mean and --std override it.
"""
from __future__ import annotations

import argparse
import sys

from inception_jax.artifacts import CROP_MODES, INTERPOLATIONS, save_weights
from inception_jax.convert import WeightMismatchError, from_keras, from_slim, from_timm, from_torchvision

SOURCES = ("timm", "keras", "slim", "torchvision")


def convert(source: str, model_name: str, path: str, keep_background: bool = False, input_overrides=None):
    """`(module, variables, spec)` converted from the weights at `path` in format `source`."""
    if source == "timm":
        return from_timm(model_name, path, input_overrides)
    if source == "keras":
        return from_keras(model_name, path, input_overrides)
    if source == "torchvision":
        return from_torchvision(model_name, path, input_overrides)
    return from_slim(model_name, path, keep_background=keep_background, input_overrides=input_overrides)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(value) for value in text.split(","))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inception_jax.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", choices=SOURCES, required=True, help="format of the weights")
    parser.add_argument("--model", required=True,
                        help="timm: inception_v3, inception_v4, inception_resnet_v2, optionally with timm's weight "
                             "tag (inception_v3.gluon_in1k); slim: inception_v3, inception_v4, inception_resnet_v2, "
                             "bn_inception, googlenet; keras: inception_v3, inception_resnet_v2; torchvision: "
                             "alexnet, vgg*, googlenet, resnet*")
    parser.add_argument("--input", required=True,
                        help="timm/torchvision: .safetensors/.pth/.bin; keras: .weights.h5/.h5; slim: checkpoint prefix")
    parser.add_argument("--output", required=True, help="directory to write the converted weights to")
    parser.add_argument("--keep-background", action="store_true",
                        help="slim only: keep the background class of 1001-class checkpoints")
    overrides = parser.add_argument_group("input spec", "override how the source prepares evaluation images")
    overrides.add_argument("--image-size", type=int, help="network input side")
    overrides.add_argument("--crop-fraction", type=float, help="share of the image the evaluation crop keeps")
    overrides.add_argument("--crop-mode", choices=CROP_MODES)
    overrides.add_argument("--interpolation", choices=INTERPOLATIONS)
    overrides.add_argument("--mean", type=_floats, help="per-channel mean of [0, 1] pixels, e.g. 0.485,0.456,0.406")
    overrides.add_argument("--std", type=_floats, help="per-channel std of [0, 1] pixels, e.g. 0.229,0.224,0.225")
    args = parser.parse_args(argv)
    if args.keep_background and args.source != "slim":
        parser.error("--keep-background applies to --from slim only")
    input_overrides = {field: getattr(args, field) for field in
                       ("image_size", "crop_fraction", "crop_mode", "interpolation", "mean", "std")}
    try:
        module, variables, spec = convert(args.source, args.model, args.input, args.keep_background, input_overrides)
    except (WeightMismatchError, ValueError, ImportError, OSError) as error:
        sys.exit(f"Could not convert {args.input}: {error}")
    save_weights(args.output, spec, variables)
    print(f"Wrote {spec.model_name} to {args.output}; input: {spec.input}")


if __name__ == "__main__":
    main()
