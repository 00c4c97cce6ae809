"""Model-level changes for XLA:CPU speed, each timed against the unchanged network in one process, alternating.

    python experiments/cpu_model_variants/run.py --variant=sibling_1x1 --model=inception_resnet_v2 --mode=train

Each variant replaces one piece of `inception_jax.models.layers` while its program is traced, so the unchanged
and the changed program are compiled side by side from the same variables; the parameters and their names do not
change. Figures are appended to results.json beside this file. See README.md for what each variant is and why.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
from absl import app, flags
from flax.linen import module as linen_module
from jax import lax

import inception_jax  # noqa: F401  (sets the tuned XLA:CPU flag before JAX starts its backend)
from inception_jax.benchmark import ours, timing
from inception_jax.models import layers
from inception_jax.spec import InputSpec, ModelSpec

RESULTS = pathlib.Path(__file__).with_name("results.json")
NHWC = ("NHWC", "HWIO", "NHWC")


def _folded_batch_norm(variables, epsilon: float):
    """The (scale, shift) that BatchNorm on its moving averages applies, from a ConvBN's variables."""
    stats, params = variables["batch_stats"]["bn"], variables["params"]["bn"]
    scale = lax.rsqrt(stats["var"] + epsilon)
    if "scale" in params:
        scale = scale * params["scale"]
    return scale, params["bias"] - stats["mean"] * scale


def _conv_bias_act(self, x, kernel, bias):
    """The conv layer with BatchNorm folded into `kernel` and `bias`, then the layer's rectifier."""
    y = layers.conv_or_matmul(x, kernel, layers._pair(self.stride), self.padding, dimension_numbers=NHWC) + bias
    return self.opts.act(y) if self.activation else y


def _conv_bn_folded(self, x, train: bool = False):
    """Inference: BatchNorm folded into the kernel and a bias, so the conv's output needs one add."""
    if train or self.is_initializing():
        return _ORIGINAL["ConvBN"](self, x, train)
    scale, shift = _folded_batch_norm(self.variables, self.opts.bn_epsilon)
    return _conv_bias_act(self, x, self.variables["params"]["conv"]["kernel"] * scale, shift)


def _conv_bn_prefolded(self, x, train: bool = False):
    """Inference on variables that `prefold_batch_norm` folded once: the conv's output needs only the bias."""
    if train or self.is_initializing():
        return _ORIGINAL["ConvBN"](self, x, train)
    params = self.variables["params"]
    return _conv_bias_act(self, x, params["conv"]["kernel"], params["bn"]["bias"])


def prefold_batch_norm(variables, epsilon: float):
    """Every conv-BN layer's BatchNorm folded into its kernel and bias, once, outside the timed program."""

    def fold(params, stats):
        if isinstance(params, dict) and set(params) == {"conv", "bn"}:
            scale, shift = _folded_batch_norm({"params": params, "batch_stats": stats}, epsilon)
            return {"conv": {"kernel": params["conv"]["kernel"] * scale}, "bn": {"bias": shift}}
        if isinstance(params, dict):
            return {name: fold(value, (stats or {}).get(name)) for name, value in params.items()}
        return params

    return {"params": fold(variables["params"], variables["batch_stats"]), "batch_stats": variables["batch_stats"]}


def _after_first_layer(branch) -> tuple:
    """A branch's layers from the second on, each named as in the whole branch (names follow positions)."""
    named, index = [], 0
    for spec in branch:
        if isinstance(spec, layers.Split):
            subs = []
            for sub in spec.layers:
                subs.append(sub._replace(name=layers._layer_name(sub, index)))
                index += 1
            named.append(layers.Split(tuple(subs)))
        else:
            named.append(spec._replace(name=layers._layer_name(spec, index)))
            index += 1
    return tuple(named[1:])


def _mixed_sibling_1x1(opts, x, train, branches):
    """Branches that open with a 1×1 conv on the block's input run those convs as one matmul, and their
    BatchNorms and rectifiers as one (horizontal fusion); the rest of each branch runs on its slice."""
    block = linen_module._context.module_stack[-1]
    heads = [
        i
        for i, branch in enumerate(branches)
        if isinstance(branch[0], layers.Conv) and layers._pair(branch[0].kernel) == (1, 1) and branch[0].stride == 1
    ]
    if len(heads) < 2 or block.is_initializing():
        return _ORIGINAL["mixed"](opts, x, train, branches)
    head_variables = [
        {
            collection: block.variables[collection][f"Branch_{i}"][layers._layer_name(branches[i][0], 0)]
            for collection in ("params", "batch_stats")
        }
        for i in heads
    ]
    widths = [v["params"]["conv"]["kernel"].shape[-1] for v in head_variables]
    if train:  # batch statistics over all heads' channels at once (the moving averages are not updated here)
        kernel = jnp.concatenate([v["params"]["conv"]["kernel"][0, 0] for v in head_variables], axis=1)
        y = jnp.einsum("...c,cd->...d", x, kernel)
        mean = y.mean((0, 1, 2))
        var = jnp.square(y - mean).mean((0, 1, 2))
        gamma = jnp.concatenate([v["params"]["bn"].get("scale", jnp.ones(w)) for v, w in zip(head_variables, widths)])
        beta = jnp.concatenate([v["params"]["bn"]["bias"] for v in head_variables])
        y = opts.act((y - mean) * (lax.rsqrt(var + opts.bn_epsilon) * gamma) + beta)
    else:
        folded = [_folded_batch_norm(v, opts.bn_epsilon) for v in head_variables]
        kernels = [v["params"]["conv"]["kernel"][0, 0] * scale for v, (scale, _) in zip(head_variables, folded)]
        kernel = jnp.concatenate(kernels, axis=1)
        y = opts.act(jnp.einsum("...c,cd->...d", x, kernel) + jnp.concatenate([shift for _, shift in folded]))
    head_outputs, start = {}, 0
    for i, width in zip(heads, widths):
        head_outputs[i] = y[..., start : start + width]
        start += width
    outputs = [
        layers.Tower(opts, _after_first_layer(branch), name=f"Branch_{i}")(head_outputs[i], train)
        if i in head_outputs
        else layers.Tower(opts, tuple(branch), name=f"Branch_{i}")(x, train)
        for i, branch in enumerate(branches)
    ]
    return jnp.concatenate(outputs, axis=-1)


def _residual_without_concat(self, x, train: bool = False):
    """Inception-ResNet blocks: the 1×1 expansion as a sum of one matmul per branch over its rows of the kernel,
    so the branches are never concatenated."""
    if self.is_initializing() or self.bn_on_summations:
        return _ORIGINAL["ResidualBlock"](self, x, train)
    outputs = [layers.Tower(self.opts, tuple(b), name=f"Branch_{i}")(x, train) for i, b in enumerate(self.branches)]
    expansion = self.variables["params"]["Residual"]["Conv2d_1x1"]
    kernel, up, start = expansion["kernel"][0, 0], expansion["bias"], 0
    for out in outputs:
        up = up + jnp.einsum("...c,cd->...d", out, kernel[start : start + out.shape[-1]])
        start += out.shape[-1]
    y = x + up if self.scale == 1.0 else x + self.scale * up
    return self.opts.act(y) if self.activation else y


def _conv_stem_as_matmul(lhs, rhs, window_strides, padding, **kwargs):
    """The first conv (3 input channels) as image patches times a matmul: its weight gradient becomes a dot
    instead of a convolution whose operands XLA:CPU transposes (the profile's largest transposes)."""
    if rhs.shape[2] != 3 or kwargs.get("feature_group_count", 1) != 1:
        return _ORIGINAL["conv_or_matmul"](lhs, rhs, window_strides, padding, **kwargs)
    kh, kw, cin, cout = rhs.shape
    patches = lax.conv_general_dilated_patches(  # features ordered (channel, row, column)
        lax.stop_gradient(lhs), (kh, kw), tuple(window_strides), padding, dimension_numbers=("NHWC", "OIHW", "NHWC")
    )
    kernel = jnp.transpose(rhs, (2, 0, 1, 3)).reshape(cin * kh * kw, cout)
    return jnp.einsum("...c,cd->...d", patches, kernel, precision=kwargs.get("precision"))


_ORIGINAL = {
    "ConvBN": layers.ConvBN.__call__,
    "mixed": layers.mixed,
    "ResidualBlock": layers.ResidualBlock.__call__,
    "conv_or_matmul": layers.conv_or_matmul,
}


def _as_module_method(function):
    function.__name__ = "__call__"
    return linen_module.wrap_method_once(nn.compact(function))


@contextlib.contextmanager
def installed(variant: str):
    """`variant` in place of the library's piece while the block runs (tracing happens inside)."""
    saved = (layers.ConvBN.__call__, layers.mixed, layers.ResidualBlock.__call__, layers.conv2d)
    if variant == "bn_folded":
        layers.ConvBN.__call__ = _conv_bn_folded
    elif variant == "bn_prefolded":
        layers.ConvBN.__call__ = _conv_bn_prefolded
    elif variant == "sibling_1x1":
        layers.mixed = _mixed_sibling_1x1
    elif variant == "residual_without_concat":
        layers.ResidualBlock.__call__ = _as_module_method(_residual_without_concat)
    elif variant == "stem_as_matmul":
        layers.conv2d = lambda *a, **k: nn.Conv(*a, conv_general_dilated=_conv_stem_as_matmul, **k)
    try:
        yield
    finally:
        layers.ConvBN.__call__, layers.mixed, layers.ResidualBlock.__call__, layers.conv2d = saved


VARIANTS = ("bn_folded", "bn_prefolded", "sibling_1x1", "residual_without_concat", "stem_as_matmul")
flags.DEFINE_enum("variant", None, VARIANTS, "The model-level change to time.", required=True)
flags.DEFINE_string("model", "inception_v3", "Registry name of the network.")
flags.DEFINE_enum("mode", "train", ["train", "infer"], "Our recipe's train step, or the eval-mode forward pass.")
flags.DEFINE_integer("rounds", 5, "Rounds of alternating windows.")
flags.DEFINE_integer("batch", 8, "Images per step.")
flags.DEFINE_string("results", str(RESULTS), "JSON list the record is appended to.")
FLAGS = flags.FLAGS


def compiled_program(spec: ModelSpec, variant: str | None):
    """Our step (or forward pass) compiled with `variant` installed, and its arguments; the state is not donated,
    so both programs can run on the same arguments."""
    with installed(variant) if variant else contextlib.nullcontext():
        function, arguments = ours._program(spec, FLAGS.mode, FLAGS.batch, donate=False)
        if variant == "bn_prefolded":
            if FLAGS.mode != "infer":
                raise app.UsageError("bn_prefolded folds the moving averages: it needs --mode=infer.")
            arguments = (prefold_batch_norm(arguments[0], spec.build().bn_epsilon), *arguments[1:])
        compiled, seconds = timing.timed(lambda: function.lower(*arguments).compile())
    timing.log(f"[{variant or 'unchanged'}] compiled in {seconds:.1f} s")
    return compiled, arguments


def main(_):
    spec = ModelSpec.of_module(FLAGS.model, inception_jax.create_model(FLAGS.model), InputSpec(image_size=299))
    load_before = timing.load_average()
    programs = {"unchanged": compiled_program(spec, None), FLAGS.variant: compiled_program(spec, FLAGS.variant)}
    outputs = {name: compiled(*arguments) for name, (compiled, arguments) in programs.items()}
    # Same computation up to float32 rounding: the logits (infer) or the loss (train) of both programs.
    compare = (lambda out: out) if FLAGS.mode == "infer" else (lambda out: out[1]["train/loss"])
    reference, changed = (jnp.asarray(compare(out), jnp.float32) for out in outputs.values())
    relative_difference = float(jnp.abs(reference - changed).max() / jnp.abs(reference).max())
    steps = 3 if FLAGS.mode == "train" else 8
    figures = {name: [] for name in programs}
    for round_index in range(FLAGS.rounds):
        order = list(programs) if round_index % 2 == 0 else list(programs)[::-1]
        for name in order:
            compiled, arguments = programs[name]
            jax.block_until_ready(compiled(*arguments))
            start = time.perf_counter()
            jax.block_until_ready([compiled(*arguments) for _ in range(steps)])
            figures[name].append(steps * FLAGS.batch / (time.perf_counter() - start))
        latest = ", ".join(f"{name} {values[-1]:.2f} img/s" for name, values in figures.items())
        timing.log(f"round {round_index + 1}/{FLAGS.rounds}: {latest}")
    medians = {name: statistics.median(values) for name, values in figures.items()}
    record = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": f"python experiments/cpu_model_variants/run.py --variant={FLAGS.variant} --model={FLAGS.model} "
        f"--mode={FLAGS.mode} --rounds={FLAGS.rounds} --batch={FLAGS.batch}",
        "cpu_model": timing.cpu_model(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average_before": load_before,
        "load_average_after": timing.load_average(),
        "images_per_s_rounds": figures,
        "images_per_s": medians,
        "ratio": medians[FLAGS.variant] / medians["unchanged"],
        "max_relative_difference": relative_difference,
    }
    path = pathlib.Path(FLAGS.results)
    results = json.loads(path.read_text()) if path.exists() else []
    results.append(record)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{FLAGS.model} {FLAGS.mode} {FLAGS.variant}: {record['ratio']:.3f}× the unchanged network ({medians})")


if __name__ == "__main__":
    app.run(main)
