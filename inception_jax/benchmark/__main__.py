"""Images/s of a network's train step or forward pass on this machine, optionally against timm and Keras.

    python -m inception_jax.benchmark --model=inception_resnet_v2 --mode=train --batch=8 --image_size=299 \
        --dtype=float32 --compare=timm,keras,keras-stock --json=result.json   # [--remat=block] [--profile=DIR]
    python -m inception_jax.benchmark --model=inception_v3 --model.width_multiplier=0.5 --mode=infer
    python -m inception_jax.benchmark --input_pipeline --batch=64 --image_size=299
    python -m inception_jax.benchmark --input_pipeline --batch=64 --pipeline_folder=/tmp/imagenet_like
    python -m inception_jax.benchmark --model=inception_v4 --dtype=bfloat16 --batch=1024 --find_batch   # on a GPU

See the package docstring (inception_jax/benchmark/__init__.py) for what is measured, and `timing` for how. On a
machine without an accelerator the tuned XLA:CPU flags are added, for us and the `keras` peer alike
(`keras-stock` runs as a Keras user gets it); --stock_xla leaves XLA_FLAGS alone.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys

import flax
import jax
import jax.numpy as jnp
import jaxlib
import optax
from absl import app, flags

from inception_jax import cli
from inception_jax import spec as spec_lib
from inception_jax.benchmark import report, timing
from inception_jax.benchmark.ours import CompiledStep, compile_ours, largest_batch, time_ours
from inception_jax.benchmark.peers import PEERS, run_peer
from inception_jax.configs import paper
from inception_jax.models import create_model
from inception_jax.models.network import REMAT_POLICIES
from inception_jax.summary import count_macs

DEFAULT_TIMM_PYTHON = os.path.join(".timm-ref", "bin", "python")
DEFAULT_PROTOCOL = timing.Protocol()

cli.define_model_flags(default="inception_v3")
flags.DEFINE_enum(
    "mode",
    "train",
    ["train", "infer"],
    "train: the real train step (RMSProp, EMA, donated state); infer: eval-mode forward.",
)
flags.DEFINE_integer("batch", 8, "Global batch; with --find_batch, the largest one to try.")
flags.DEFINE_bool(
    "find_batch",
    False,
    "Use the largest power-of-two batch up to --batch that fits the device: predicted from the step's memory at "
    "a small batch, then halved while the device runs out of memory.",
)
flags.DEFINE_integer("image_size", None, "Input side (default: the network's own).")
flags.DEFINE_enum(
    "dtype", "float32", ["float32", "bfloat16"], "Compute dtype; parameters and BatchNorm statistics stay float32."
)
flags.DEFINE_enum("remat", "none", list(REMAT_POLICIES), "Rematerialise each block's activations.")
flags.DEFINE_integer(
    "steps", DEFAULT_PROTOCOL.steps, "Steps per timed window (0: enough to fill --min_window_s, from the warm-up)."
)
flags.DEFINE_integer("repeats", DEFAULT_PROTOCOL.repeats, "Timed windows; the median is reported.")
flags.DEFINE_integer("warmup", DEFAULT_PROTOCOL.warmup, "Untimed steps after compilation.")
flags.DEFINE_float("min_window_s", DEFAULT_PROTOCOL.min_window_s, "Shortest timed window, in seconds.")
flags.DEFINE_list("compare", [], f"Peers to run, each in its own process: {','.join(PEERS)}.")
flags.DEFINE_integer(
    "rounds",
    1,
    "Take turns: ours, then each peer, this many times; each one's images/s is the median over the rounds, so "
    "that load from elsewhere falls on all alike. Ours is compiled once and timed every round.",
)
flags.DEFINE_string("timm_python", DEFAULT_TIMM_PYTHON, "Python of a virtual environment with torch and timm.")
flags.DEFINE_string("keras_python", sys.executable, "Python of an environment with Keras 3 and JAX.")
flags.DEFINE_bool("donate", True, "Donate the state's buffers to the train step (--nodonate: measure the saving).")
flags.DEFINE_string("json", None, "Write the full record as JSON to this path.")
flags.DEFINE_string("hlo", None, "Write our compiled (optimised) HLO as text to this path.")
flags.DEFINE_string(
    "profile", None, "Trace one more window with jax.profiler into this directory, and print where the time goes."
)
flags.DEFINE_bool("input_pipeline", False, "Instead: time the tf.data input pipeline (decode + augment).")
flags.DEFINE_integer("pipeline_batches", 50, "Batches the input-pipeline measurement times.")
flags.DEFINE_string(
    "pipeline_folder",
    None,
    "With --input_pipeline: time a folder of images (DIR/train/<class>/<image>, e.g. written by "
    "inception_jax.benchmark.imagenet_like_jpegs) with the train augmentation and the eval preprocessing, "
    "instead of the embedded digits.",
)
FLAGS = flags.FLAGS


def hardware() -> dict:
    """The device, and the host and its load before the measurement (`timing.host`)."""
    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        **timing.host(),
    }


def measure_input_pipeline() -> dict:
    """Images/s of the tf.data pipeline with ImageNet's augmentation (configs/paper.py) and, on a folder of images,
    also with the evaluation's preprocessing; on the embedded digits unless --pipeline_folder."""
    from inception_jax.data import pipeline  # noqa: PLC0415 (TensorFlow only for this measurement)

    size = FLAGS.image_size or 299
    if FLAGS.pipeline_folder:
        source = {"dataset": "folder", "folder": FLAGS.pipeline_folder, "train_split": "train", "eval_split": "train"}
    else:
        source = {"dataset": "sklearn_digits", "eval_split": "test"}
    config = paper.input_config(**source, batch_size=FLAGS.batch, eval_batch_size=FLAGS.batch, image_size=size)
    spec = spec_lib.INCEPTION_INPUT.replace(image_size=size)
    cores = timing.usable_cores()
    record = {"input_pipeline": config.to_dict(), "batches": FLAGS.pipeline_batches, "cores": cores}
    modes = ("train", "eval") if FLAGS.pipeline_folder else ("train",)
    for mode in modes:
        images_per_s = pipeline.benchmark(config, spec, FLAGS.pipeline_batches, train=mode == "train")
        prefix = "" if mode == "train" else "eval_"
        record.update({f"{prefix}images_per_s": images_per_s, f"{prefix}images_per_s_per_core": images_per_s / cores})
    return record


def measure_at_largest_batch(measure, spec: spec_lib.ModelSpec, args) -> tuple[dict, dict]:
    """`measure(batch)` at `largest_batch`'s answer, halving the batch while the device runs out of memory."""
    search = largest_batch(spec, mode=args.mode, ceiling=args.batch)
    search["out_of_memory_at"] = []
    batch = search["batch"]
    while True:
        try:
            result = measure(batch)
        except jax.errors.JaxRuntimeError as error:
            if "RESOURCE_EXHAUSTED" not in str(error) or batch == 1:
                raise
            timing.log(f"[ours] batch {batch} ran out of device memory; trying {batch // 2}")
            search["out_of_memory_at"].append(batch)
            batch //= 2
            continue
        search["batch"] = batch
        return result, search


def benchmark(args, command: str, stock_xla_flags: str) -> dict:
    """Measures ours, then each requested peer, and assembles the record. `args`: the flags' values."""
    options = cli.model_options()
    model = create_model(args.model, dtype=getattr(jnp, args.dtype), remat=args.remat, **options)
    image_size = args.image_size or model.default_size
    spec = spec_lib.ModelSpec.of_module(args.model, model, spec_lib.InputSpec(image_size=image_size))
    macs = count_macs(model, image_size)
    flops_per_image = report.FLOPS_PER_MAC[args.mode] * macs
    protocol = timing.Protocol.from_args(args).as_dict()

    step: CompiledStep | None = None  # the latest batch size's, compiled once for all rounds

    def measure(batch: int) -> dict:
        nonlocal step
        first_round = step is None or step.batch != batch
        if first_round:
            step = None  # a batch that ran out of memory frees its state before the next compile
            step = compile_ours(spec, mode=args.mode, batch=batch, donate=args.donate, hlo_path=args.hlo)
        # The profile, like the HLO, comes from the first round only.
        return time_ours(step, profile_dir=args.profile if first_round else None, **protocol)

    if args.find_batch:
        ours, search = measure_at_largest_batch(measure, spec, args)
        batch = search["batch"]
    else:
        batch, search = args.batch, None
        ours = measure(batch)
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "config": {
            "model": args.model,
            "mode": args.mode,
            "batch": batch,
            "image_size": image_size,
            "dtype": args.dtype,
            "remat": args.remat,
            "options": options,
            "donate": args.donate,
            "rounds": args.rounds,
            **protocol,
        },
        "batch_search": search,
        "hardware": hardware(),
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "flax": flax.__version__,
            "optax": optax.__version__,
        },
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "flops": {
            "macs_per_image": macs,
            "flops_per_mac": report.FLOPS_PER_MAC[args.mode],
            "flops_per_image": flops_per_image,
        },
    }
    pythons = {
        "timm": args.timm_python,
        "keras": args.keras_python,
        "keras-stock": args.keras_python,
        "plain-optax": sys.executable,
    }
    rounds = {"ours": [ours]}
    for turn in range(args.rounds):
        if turn:
            timing.log(f"round {turn + 1} of {args.rounds}")
            rounds["ours"].append(measure(batch))
        for peer in args.compare:
            rounds.setdefault(peer, []).append(
                run_peer(
                    peer,
                    pythons[peer],
                    model=args.model,
                    mode=args.mode,
                    batch=batch,
                    image_size=image_size,
                    dtype=args.dtype,
                    # What a user of the peer gets: XLA_FLAGS as they were before this tool tuned them.
                    xla_flags=stock_xla_flags if peer in ("keras-stock", "plain-optax") else None,
                    **protocol,
                )
            )
    results = {name: report.over_rounds(results) for name, results in rounds.items()}
    peak = report.peak_tflops(record["hardware"]["device_kind"], args.dtype)
    for result in results.values():
        report.add_flop_rates(result, flops_per_image, peak)
    record["hardware"]["load_average_after"] = timing.load_average()
    record.update(peak_tflops=peak, results=results, ratios=report.ratios(results))
    return record


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    unknown = sorted(set(FLAGS.compare) - set(PEERS))
    if unknown:
        raise app.UsageError(f"--compare: unknown peer(s) {', '.join(unknown)}; choose from {','.join(PEERS)}.")
    command = shlex.join(["python", "-m", "inception_jax.benchmark", *sys.argv[1:]])
    if FLAGS.input_pipeline:
        record = {"command": command, "hardware": hardware(), **measure_input_pipeline()}
        for prefix, name in (("", "train augmentation"), ("eval_", "eval preprocessing")):
            if f"{prefix}images_per_s" in record:
                print(
                    f"input pipeline, {name}: {record[prefix + 'images_per_s']:.0f} images/s on {record['cores']} "
                    f"cores = {record[prefix + 'images_per_s_per_core']:.0f} images/s per core"
                )
    else:
        record = benchmark(FLAGS, command, cli.stock_xla_flags())
        print(report.format_report(record))
    if FLAGS.json:
        report.write_json(record, FLAGS.json)
        timing.log(f"wrote {FLAGS.json}")


if __name__ == "__main__":
    cli.run(main)
