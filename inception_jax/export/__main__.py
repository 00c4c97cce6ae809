"""Exports a network with its weights and its input contract for serving outside this library.

    python -m inception_jax.export --weights=inception_v3.tv_in1k --format=stablehlo --output=exported/v3
    python -m inception_jax.export --weights=runs/flowers/weights --format=stablehlo --output=exported/flowers
    python -m inception_jax.export --weights=inception_v3.tv_in1k --format=saved_model --output=exported/v3_saved
    python -m inception_jax.export --weights=inception_v3.tv_in1k --format=onnx --output=exported/v3_onnx

The logic is `inception_jax.export.export`; `inception_jax.export.load_stablehlo` loads the result.
"""

from absl import flags

from inception_jax import cli, export

flags.DEFINE_string("weights", None, "A registered weight, hf-hub:REPO, or a directory of converted weights.")
flags.DEFINE_enum("format", "stablehlo", list(export.FORMATS), "What to write.")
flags.DEFINE_string("output", None, "Directory to write the exported network and spec.json to.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    cli.require("weights", "output")
    spec = export.export(FLAGS.weights, FLAGS.output, FLAGS.format)
    print(f"Wrote {spec.model_name} ({FLAGS.format}) to {FLAGS.output}; input: {spec.input}")


if __name__ == "__main__":
    cli.run(main)
