"""Command line: `python -m inception_jax.benchmark`; see the package docstring for what is measured and how."""
from __future__ import annotations

import argparse
import ast
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

from inception_jax.benchmark import report
from inception_jax.benchmark.ours import measure_ours
from inception_jax.benchmark.peers import PEERS, log, run_peer, usable_cores
from inception_jax.models import create_model, list_models
from inception_jax.models.network import REMAT_POLICIES
from inception_jax.summary import count_macs

DEFAULT_TIMM_PYTHON = os.path.join(".timm-ref", "bin", "python")
# XLA:CPU hands convolutions to YNNPACK by default. On the stem's large feature maps its weight-gradient
# convolutions are 3-10x slower than XLA's own (Eigen) ones, and with it off an Inception-v3 train step is
# ~1.6x faster while inference is unchanged (README, "Performance"). CPU-only; ignored by GPU backends.
TUNED_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)


def parse_option(text: str) -> tuple[str, object]:
    """`NAME=VALUE` from `--set`: VALUE as a Python literal (true/false accepted), else as a string."""
    name, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"--set {text!r}: write NAME=VALUE, e.g. --set width_multiplier=0.5")
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def parse_peers(text: str) -> list[str]:
    peers = [peer for peer in text.split(",") if peer]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer(s) {', '.join(unknown)}; choose from {','.join(PEERS)}")
    return peers


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m inception_jax.benchmark",
                                     description="Images/s of a network's train step or forward pass on this "
                                                 "machine, optionally against timm and Keras.")
    parser.add_argument("--model", choices=list_models(), default="inception_v3", metavar="NAME",
                        help="a network of inception_jax.list_models() (default: inception_v3)")
    parser.add_argument("--mode", choices=("train", "infer"), default="train",
                        help="train: the real train step (RMSProp, EMA, donated state); infer: eval-mode forward")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=None, help="input side (default: the network's own)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="compute dtype; parameters and BatchNorm statistics stay float32")
    parser.add_argument("--remat", choices=REMAT_POLICIES, default="none")
    parser.add_argument("--set", type=parse_option, action="append", default=[], metavar="NAME=VALUE",
                        help="override a create_model option, e.g. --set width_multiplier=0.1")
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per timed window (0: enough to fill --min-window-s, from the warm-up)")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows; the median is reported")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compilation")
    parser.add_argument("--min-window-s", type=float, default=2.0)
    parser.add_argument("--compare", type=parse_peers, default=[], metavar="PEERS",
                        help=f"comma-separated peers to run, each in its own process: {','.join(PEERS)}")
    parser.add_argument("--timm-python", default=DEFAULT_TIMM_PYTHON,
                        help="python of a virtual environment with torch and timm")
    parser.add_argument("--keras-python", default=sys.executable,
                        help="python of an environment with Keras 3 and JAX (default: this one)")
    parser.add_argument("--no-donate", dest="donate", action="store_false",
                        help="train without donating the state's buffers (to measure what donation saves)")
    parser.add_argument("--stock-xla", action="store_true",
                        help=f"leave XLA_FLAGS as they are; by default {' '.join(TUNED_XLA_FLAGS)} is added, "
                             "for us and the keras peer alike (keras-stock always runs without it)")
    parser.add_argument("--json", metavar="PATH", help="write the full record as JSON")
    parser.add_argument("--hlo", metavar="PATH", help="write our compiled (optimised) HLO as text")
    parser.add_argument("--profile", metavar="DIR", help="trace one more window with jax.profiler into DIR and "
                                                         "print where the time goes")
    parser.add_argument("--input-pipeline", action="store_true",
                        help="instead: time the tf.data input pipeline (decode + augment) on the embedded digits")
    parser.add_argument("--pipeline-batches", type=int, default=50)
    return parser.parse_args(argv)


def add_tuned_xla_flags() -> None:
    """Appends `TUNED_XLA_FLAGS` to XLA_FLAGS (kept for the peer processes too), except flags the user set."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    names = {flag.split("=", 1)[0] for flag in flags}
    flags += [flag for flag in TUNED_XLA_FLAGS if flag.split("=", 1)[0] not in names]
    os.environ["XLA_FLAGS"] = " ".join(flags)


def cpu_model() -> str:
    """The processor's marketing name (what `lscpu` shows as "Model name")."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict:
    """The device, the CPU and its current load (other jobs on the machine skew every number)."""
    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind, "device_count": jax.device_count(),
            "cpu_model": cpu_model(), "usable_cores": usable_cores(), "load_average_before": os.getloadavg()}


def measure_input_pipeline(args) -> dict:
    """Decoded and augmented images/s of the tf.data pipeline on the embedded digits, with ImageNet's augmentation."""
    from inception_jax.data import pipeline  # noqa: PLC0415 (TensorFlow only for this measurement)

    config = pipeline.default_input_config()
    config.update(batch_size=args.batch, image_size=args.image_size or 299, crop_area_range=(0.05, 1.0), flip=True,
                  color_distortion=True)
    images_per_s = pipeline.benchmark(config, args.pipeline_batches)
    cores = usable_cores()
    return {"input_pipeline": config.to_dict(), "batches": args.pipeline_batches, "images_per_s": images_per_s,
            "cores": cores, "images_per_s_per_core": images_per_s / cores}


def benchmark(args, command: str, stock_xla_flags: str) -> dict:
    """Measures ours, then each requested peer, and assembles the record."""
    model = create_model(args.model, dtype=getattr(jnp, args.dtype), remat=args.remat, **dict(args.set))
    image_size = args.image_size or model.default_size
    macs = count_macs(model, image_size)
    flops_per_image = report.FLOPS_PER_MAC[args.mode] * macs
    timing = {"steps": args.steps, "repeats": args.repeats, "warmup": args.warmup, "min_window_s": args.min_window_s}
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "command": command,
        "config": {"model": args.model, "mode": args.mode, "batch": args.batch, "image_size": image_size,
                   "dtype": args.dtype, "remat": args.remat, "options": dict(args.set), "donate": args.donate,
                   **timing},
        "hardware": hardware(),
        "versions": {"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                     "flax": flax.__version__, "optax": optax.__version__},
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "flops": {"macs_per_image": macs, "flops_per_mac": report.FLOPS_PER_MAC[args.mode],
                  "flops_per_image": flops_per_image},
    }
    results = {"ours": measure_ours(model, mode=args.mode, batch=args.batch, image_size=image_size,
                                    donate=args.donate, hlo_path=args.hlo, profile_dir=args.profile, **timing)}
    pythons = {"timm": args.timm_python, "keras": args.keras_python, "keras-stock": args.keras_python}
    for peer in args.compare:
        results[peer] = run_peer(peer, pythons[peer], model=args.model, mode=args.mode, batch=args.batch,
                                 image_size=image_size, dtype=args.dtype,
                                 xla_flags=stock_xla_flags if peer == "keras-stock" else None, **timing)
    peak = report.peak_tflops(record["hardware"]["device_kind"], args.dtype)
    for result in results.values():
        report.add_flop_rates(result, flops_per_image, peak)
    record["hardware"]["load_average_after"] = os.getloadavg()
    record.update(peak_tflops=peak, results=results, ratios=report.ratios(results))
    return record


def main(argv=None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "inception_jax.benchmark", *(sys.argv[1:] if argv is None else argv)])
    stock_xla_flags = os.environ.get("XLA_FLAGS", "")
    if not args.stock_xla:
        add_tuned_xla_flags()  # before JAX starts its backend, which reads XLA_FLAGS once
    if args.input_pipeline:
        record = {"command": command, "hardware": hardware(), **measure_input_pipeline(args)}
        print(f"input pipeline: {record['images_per_s']:.0f} images/s on {record['cores']} cores = "
              f"{record['images_per_s_per_core']:.0f} images/s per core")
    else:
        record = benchmark(args, command, stock_xla_flags)
        print(report.format_report(record))
    if args.json:
        report.write_json(record, args.json)
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
