"""An inference function's jaxpr lowered to an ONNX graph, equation by equation, with its weights folded in.

Why our own: jax2onnx's releases that lower these networks need an older orbax-checkpoint than this project pins,
and the newest that installs beside it (0.12.5) lowers an NHWC max pool to a 4-D MaxPool that onnxruntime
refuses; tf2onnx cannot read jax2tf's XlaCallModule (docs/deploy.md). The networks' inference graphs use a few
dozen primitives, listed in `_RULES`; any other is refused by name.

How: the function is traced with a symbolic batch dimension. Equations whose inputs are all known (the weights,
BatchNorm's moving statistics, a count-excluding average pool's divisor) are evaluated here and stored as
initializers; the rest become ONNX nodes. NHWC tensors are transposed to NCHW around each Conv and pool
(onnxruntime's transpose optimizer removes the pairs that cancel).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from jax.extend import core as jax_core
from onnx import helper, numpy_helper

OPSET = 18
BATCH = "batch"
_NCHW, _NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
# Calls lowered by lowering the jaxpr they call (a custom rule changes only derivatives).
_CALLS = {
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "closed_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


class UnsupportedPrimitiveError(NotImplementedError):
    """A primitive, or a form of one, that the ONNX lowering does not cover."""


def to_onnx(fn: Callable, image_shape: tuple[int, ...], *, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    """`fn(images) -> array` as an ONNX model with input `images` of shape `[batch, *image_shape]` (float32) and
    output `logits`; `metadata` goes into the model's metadata_props."""
    (batch,) = jax.export.symbolic_shape(BATCH)
    closed = jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((batch, *image_shape), jnp.float32))
    graph = _Graph()
    (output,) = graph.lower(closed, ["images"])
    if not isinstance(output, str):
        raise UnsupportedPrimitiveError("the function's output does not depend on its input images.")
    graph.nodes.append(helper.make_node("Identity", [output], ["logits"]))
    (out_aval,) = closed.out_avals
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "inception_jax",
            [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, [BATCH, *image_shape])],
            [helper.make_tensor_value_info("logits", _onnx_type(out_aval.dtype), _dims(out_aval.shape))],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="inception_jax",
    )
    helper.set_model_props(model, metadata or {})
    onnx.checker.check_model(model, full_check=True)
    return model


def _dims(shape) -> list:
    return [d if isinstance(d, int) else str(d) for d in shape]


def _static(shape, unknown: int) -> list[int]:
    """`shape` with its symbolic (batch) dimension as `unknown`: -1 for Reshape, 1 for Expand."""
    return [d if isinstance(d, int) else unknown for d in shape]


def _onnx_type(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class _Graph:
    """ONNX nodes and initializers under construction. A value is a numpy array (known at export) or the name
    of an ONNX tensor."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._stored: dict[int, tuple[np.ndarray, str]] = {}  # by id; holding the array keeps its id unique

    def fresh(self, hint: str) -> str:
        return f"{hint}_{len(self.nodes) + len(self.initializers)}"

    def tensor(self, value) -> str:
        """The name of `value` in the graph, storing an array as an initializer (once)."""
        if isinstance(value, str):
            return value
        if id(value) not in self._stored:
            name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
            self._stored[id(value)] = (value, name)
        return self._stored[id(value)][1]

    def node(self, op: str, inputs: list, **attributes) -> str:
        output = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, [self.tensor(v) for v in inputs], [output], **attributes))
        return output

    def lower(self, closed, args: list) -> list:
        """The values of `closed`'s (a ClosedJaxpr) outputs for inputs `args`, adding the nodes they need."""
        jaxpr = closed.jaxpr
        env = dict(zip(jaxpr.constvars, [np.asarray(c) for c in closed.consts], strict=True))
        env.update(zip(jaxpr.invars, args, strict=True))

        def read(var):
            if isinstance(var, jax_core.Literal):
                return np.asarray(var.val, var.aval.dtype)
            return env[var]

        for eqn in jaxpr.eqns:
            inputs = [read(v) for v in eqn.invars]
            name = eqn.primitive.name
            if name in _CALLS:
                outputs = self.lower(eqn.params[_CALLS[name]], inputs)
            elif not any(isinstance(v, str) for v in inputs):  # known at export: evaluate it now
                results = eqn.primitive.bind(*inputs, **eqn.params)
                outputs = [np.asarray(r) for r in (results if eqn.primitive.multiple_results else [results])]
            elif name in _RULES:
                outputs = [_RULES[name](self, eqn, *inputs)]
            else:
                raise UnsupportedPrimitiveError(
                    f"the ONNX export does not lower `{name}` yet; export this network as stablehlo or saved_model."
                )
            env.update(zip(eqn.outvars, outputs, strict=True))
        return [read(v) for v in jaxpr.outvars]


def _binary(op: str):
    def rule(graph: _Graph, eqn, x, y):
        dtype = eqn.outvars[0].aval.dtype
        return graph.node(op, [v if isinstance(v, str) else np.asarray(v, dtype) for v in (x, y)])

    return rule


def _unary(*ops: str):
    def rule(graph: _Graph, eqn, x):
        for op in ops:
            x = graph.node(op, [x])
        return x

    return rule


def _reshape(graph: _Graph, eqn, x, *dynamic):
    if dynamic:
        raise UnsupportedPrimitiveError("reshape with dynamic shape operands")
    return graph.node("Reshape", [x, np.asarray(_static(eqn.params["new_sizes"], -1), np.int64)])


def _broadcast_in_dim(graph: _Graph, eqn, x, *dynamic):
    shape, dims = eqn.params["shape"], eqn.params["broadcast_dimensions"]
    operand_shape = eqn.invars[0].aval.shape
    if dynamic or any(not isinstance(shape[d], int) and operand_shape[i] == 1 for i, d in enumerate(dims)):
        raise UnsupportedPrimitiveError("broadcast_in_dim onto the batch dimension")
    aligned = [1] * len(shape)
    for i, d in enumerate(dims):
        aligned[d] = operand_shape[i]
    x = graph.node("Reshape", [x, np.asarray(_static(aligned, -1), np.int64)])
    return graph.node("Expand", [x, np.asarray(_static(shape, 1), np.int64)])


def _convert_element_type(graph: _Graph, eqn, x):
    return graph.node("Cast", [x], to=_onnx_type(eqn.params["new_dtype"]))


def _integer_pow(graph: _Graph, eqn, x):
    return graph.node("Pow", [x, np.asarray(eqn.params["y"], eqn.outvars[0].aval.dtype)])


def _square(graph: _Graph, eqn, x):
    return graph.node("Mul", [x, x])


def _reduce(op: str):
    def rule(graph: _Graph, eqn, x):
        return graph.node(op, [x, np.asarray(eqn.params["axes"], np.int64)], keepdims=0)

    return rule


def _squeeze(graph: _Graph, eqn, x):
    return graph.node("Squeeze", [x, np.asarray(eqn.params["dimensions"], np.int64)])


def _transpose(graph: _Graph, eqn, x):
    return graph.node("Transpose", [x], perm=list(eqn.params["permutation"]))


def _concatenate(graph: _Graph, eqn, *xs):
    return graph.node("Concat", list(xs), axis=eqn.params["dimension"])


def _pad(graph: _Graph, eqn, x, value):
    config = eqn.params["padding_config"]
    if any(interior for _, _, interior in config):
        raise UnsupportedPrimitiveError("pad with interior padding")
    pads = [lo for lo, _, _ in config] + [hi for _, hi, _ in config]
    return graph.node("Pad", [x, np.asarray(pads, np.int64), value], mode="constant")


def _slice(graph: _Graph, eqn, x):
    p = eqn.params
    strides = p["strides"] or (1,) * len(p["start_indices"])
    starts, ends = np.asarray(p["start_indices"], np.int64), np.asarray(_static(p["limit_indices"], 2**62), np.int64)
    axes = np.arange(len(strides), dtype=np.int64)
    return graph.node("Slice", [x, starts, ends, axes, np.asarray(strides, np.int64)])


def _conv(graph: _Graph, eqn, x, kernel):
    p = eqn.params
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    if any(d != 1 for d in p["lhs_dilation"]) or p["batch_group_count"] != 1:
        raise UnsupportedPrimitiveError("transposed or batch-grouped convolutions")
    if isinstance(kernel, str):
        kernel = graph.node("Transpose", [kernel], perm=list(rhs_spec))
    else:
        kernel = np.transpose(kernel, rhs_spec)  # to OIHW, at export
    pads = [lo for lo, _ in p["padding"]] + [hi for _, hi in p["padding"]]
    y = graph.node(
        "Conv",
        [graph.node("Transpose", [x], perm=list(lhs_spec)), kernel],
        strides=list(p["window_strides"]),
        pads=pads,
        dilations=list(p["rhs_dilation"]),
        group=p["feature_group_count"],
    )
    return graph.node("Transpose", [y], perm=[int(i) for i in np.argsort(out_spec)])


def _dot_general(graph: _Graph, eqn, x, y):
    """MatMul for a product over `x`'s last axis with a matrix (the classifier, a 1×1 convolution); otherwise
    the Einsum that is dot_general's definition (batch axes, then `x`'s free axes, then `y`'s)."""
    (x_contract, y_contract), (x_batch, y_batch) = eqn.params["dimension_numbers"]
    x_rank, y_rank = len(eqn.invars[0].aval.shape), len(eqn.invars[1].aval.shape)
    if not x_batch and tuple(x_contract) == (x_rank - 1,) and y_rank == 2:
        if y_contract[0] == 1:  # MatMul wants [K, N]
            y = graph.node("Transpose", [y], perm=[1, 0]) if isinstance(y, str) else np.ascontiguousarray(y.T)
        return graph.node("MatMul", [x, y])
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    x_axes, y_axes = [next(letters) for _ in range(x_rank)], [None] * y_rank
    for i, j in zip((*x_contract, *x_batch), (*y_contract, *y_batch), strict=True):
        y_axes[j] = x_axes[i]
    y_axes = [a or next(letters) for a in y_axes]
    free = [x_axes[i] for i in range(x_rank) if i not in (*x_contract, *x_batch)]
    free += [y_axes[j] for j in range(y_rank) if j not in (*y_contract, *y_batch)]
    equation = f"{''.join(x_axes)},{''.join(y_axes)}->{''.join([x_axes[i] for i in x_batch] + free)}"
    return graph.node("Einsum", [x, y], equation=equation)


def _pool(graph: _Graph, eqn, x, op: str, **extra) -> tuple[str, list[int]]:
    """ONNX `op` over the axes a reduce_window slides on: `(transposed result, kernel shape)`.

    ONNX pools slide over the trailing axes of [N, C, ...]. A pool over NHWC's height and width is transposed to
    NCHW and back; any other (LRN's window over channels) moves its other axes in front and folds them into N.
    """
    p = eqn.params
    if any(d != 1 for d in (*p["base_dilation"], *p["window_dilation"])):
        raise UnsupportedPrimitiveError("a dilated reduce_window")
    window, strides, padding = p["window_dimensions"], p["window_strides"], p["padding"]
    slid = [a for a in range(len(window)) if (window[a], strides[a], *padding[a]) != (1, 1, 0, 0)]
    attributes = {
        "kernel_shape": [window[a] for a in slid],
        "strides": [strides[a] for a in slid],
        "pads": [padding[a][0] for a in slid] + [padding[a][1] for a in slid],
        **extra,
    }
    shape, out_shape = eqn.invars[0].aval.shape, eqn.outvars[0].aval.shape
    if len(shape) == 4 and slid == [1, 2]:
        y = graph.node(op, [graph.node("Transpose", [x], perm=list(_NCHW))], **attributes)
        return graph.node("Transpose", [y], perm=list(_NHWC)), attributes["kernel_shape"]
    others = [a for a in range(len(shape)) if a not in slid]
    order = others + slid
    x = graph.node("Transpose", [x], perm=order)
    x = graph.node("Reshape", [x, np.asarray([-1, 1, *(shape[a] for a in slid)], np.int64)])
    y = graph.node(op, [x], **attributes)
    kept = [out_shape[a] for a in order]
    y = graph.node("Reshape", [y, np.asarray(_static(kept, -1), np.int64)])
    return graph.node("Transpose", [y], perm=[int(i) for i in np.argsort(order)]), attributes["kernel_shape"]


def _max_pool(graph: _Graph, eqn, x):
    return _pool(graph, eqn, x, "MaxPool")[0]


def _sum_pool(graph: _Graph, eqn, x):
    # AveragePool counting the padding, times the window's size, is the window sum.
    y, kernel = _pool(graph, eqn, x, "AveragePool", count_include_pad=1)
    return graph.node("Mul", [y, np.asarray(np.prod(kernel), eqn.outvars[0].aval.dtype)])


_RULES: dict[str, Callable] = {
    "add": _binary("Add"),
    "add_any": _binary("Add"),
    "sub": _binary("Sub"),
    "mul": _binary("Mul"),
    "div": _binary("Div"),
    "max": _binary("Max"),
    "min": _binary("Min"),
    "pow": _binary("Pow"),
    "integer_pow": _integer_pow,
    "square": _square,
    "neg": _unary("Neg"),
    "exp": _unary("Exp"),
    "log": _unary("Log"),
    "tanh": _unary("Tanh"),
    "logistic": _unary("Sigmoid"),
    "sqrt": _unary("Sqrt"),
    "rsqrt": _unary("Sqrt", "Reciprocal"),
    "abs": _unary("Abs"),
    "copy": _unary("Identity"),
    "copy_p": _unary("Identity"),
    "convert_element_type": _convert_element_type,
    "reshape": _reshape,
    "broadcast_in_dim": _broadcast_in_dim,
    "squeeze": _squeeze,
    "transpose": _transpose,
    "concatenate": _concatenate,
    "pad": _pad,
    "slice": _slice,
    "reduce_sum": _reduce("ReduceSum"),
    "reduce_max": _reduce("ReduceMax"),
    "conv_general_dilated": _conv,
    "dot_general": _dot_general,
    "reduce_window_max": _max_pool,
    "reduce_window_sum": _sum_pool,
}
