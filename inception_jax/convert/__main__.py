"""Converts pretrained weights into an Orbax checkpoint that `inception_jax.train.checkpoint.load_weights` reads.

    python -m inception_jax.convert --from timm --model inception_v4 --input inception_v4.safetensors --output DIR
    python -m inception_jax.convert --from keras --model inception_resnet_v2 --input model.weights.h5 --output DIR
    python -m inception_jax.convert --from slim --model inception_v3 --input inception_v3.ckpt --output DIR
    python -m inception_jax.convert --from torchvision --model resnet50 --input resnet50-0676ba61.pth --output DIR

DIR receives the variables and the model name and options that rebuild the network (`load_weights(DIR)`).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import flax.linen as nn

from inception_jax.convert import WeightMismatchError, from_keras, from_slim, from_timm, from_torchvision
from inception_jax.train.checkpoint import save_weights

SOURCES = ("timm", "keras", "slim", "torchvision")


def model_options(module: nn.Module) -> dict:
    """The options `module` was built with that differ from its defaults: what `create_model` needs to rebuild it."""
    return {field.name: getattr(module, field.name) for field in dataclasses.fields(module)
            if field.init and field.name not in ("parent", "name") and getattr(module, field.name) != field.default}


def convert(source: str, model_name: str, path: str, keep_background: bool = False):
    """`(module, variables)` converted from the weights at `path` in format `source`."""
    if source == "timm":
        return from_timm(model_name, path)
    if source == "keras":
        return from_keras(model_name, path)
    if source == "torchvision":
        return from_torchvision(model_name, path)
    return from_slim(model_name, path, keep_background=keep_background)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inception_jax.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", choices=SOURCES, required=True, help="format of the weights")
    parser.add_argument("--model", required=True,
                        help="timm/slim: inception_v3, inception_v4, inception_resnet_v2 (slim also bn_inception, "
                             "googlenet); keras: v3, IR-v2; torchvision: alexnet, vgg*, googlenet, resnet*")
    parser.add_argument("--input", required=True,
                        help="timm/torchvision: .safetensors/.pth/.bin; keras: .weights.h5/.h5; slim: checkpoint prefix")
    parser.add_argument("--output", required=True, help="directory to write the converted weights to")
    parser.add_argument("--keep-background", action="store_true",
                        help="slim only: keep the background class of 1001-class checkpoints")
    args = parser.parse_args(argv)
    if args.keep_background and args.source != "slim":
        parser.error("--keep-background applies to --from slim only")
    try:
        module, variables = convert(args.source, args.model, args.input, args.keep_background)
    except (WeightMismatchError, ValueError, ImportError, OSError) as error:
        sys.exit(f"Could not convert {args.input}: {error}")
    options = model_options(module)
    save_weights(args.output, args.model, options, variables)
    print(f"Wrote {args.model} {options} to {args.output}")


if __name__ == "__main__":
    main()
