"""Diagrams of Inception blocks, traced from the Flax modules themselves rather than drawn by hand.

    from inception_jax.models.inception_v4 import InceptionA
    from inception_jax.models.layers import NetOptions

    fig = block_diagram(InceptionA, NetOptions(), input_shape=(35, 35, 384))
    fig.savefig("inception_a.png")

`trace_block` runs a block once under `jax.eval_shape` (nothing is computed) with `flax.linen.intercept_methods`
watching it, and records every `Tower` it runs (each branch of a filter concatenation, or a chain such as a
stem's first convolutions), the output shape of each of their layers, and the `ScaledResidual` that ends an
Inception-ResNet block. `draw_block` lays that out top to bottom (the paper's figures run bottom to top):
input → parallel branches → filter concat (→ linear 1×1 conv → ×scale → + input).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from inception_jax.models.layers import Conv, ConvBN, ScaledResidual, Split, Tower, pool

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer of a tower as it ran: "conv" (conv-BN-ReLU), "avg pool" or "max pool"."""

    kind: str
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: str
    output_shape: Shape

    @property
    def label(self) -> str:
        """The paper's wording: "3×3 conv, 384, stride 2 V" (V: valid padding)."""
        text = f"{self.window[0]}×{self.window[1]} {self.kind}"
        if self.kind == "conv":
            text += f", {self.output_shape[-1]}"
        if self.stride != (1, 1):
            text += f", stride {self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        return text + (" V" if self.padding == "VALID" else "")


# A branch is a sequence of rows; a row holds one layer, or the parallel layers of a `Split`.
Branch = tuple[tuple[Layer, ...], ...]


@dataclasses.dataclass(frozen=True)
class Residual:
    """The end of an Inception-ResNet block: linear 1×1 conv back to the input width, ×scale, + input, ReLU."""

    scale: float
    activation: bool
    batch_norm: bool  # after the sum (`bn_on_summations`); the paper has none
    output_shape: Shape


@dataclasses.dataclass(frozen=True)
class Stage:
    """Layers between two merge points: one chain of layers, or parallel branches and their concatenation."""

    name: str  # the module that holds the branches, e.g. "Mixed_3a"; "" for the traced block itself
    input_shape: Shape
    branches: tuple[Branch, ...]
    residual: Residual | None = None

    @property
    def concatenated(self) -> bool:
        """Whether the stage ends in a filter concatenation (more than one branch, or a final split)."""
        return len(self.branches) > 1 or len(self.branches[0][-1]) > 1

    @property
    def concat_shape(self) -> Shape:
        ends = [layer.output_shape for branch in self.branches for layer in branch[-1]]
        return (*ends[0][:-1], sum(shape[-1] for shape in ends))

    @property
    def output_shape(self) -> Shape:
        return self.residual.output_shape if self.residual else self.concat_shape


@dataclasses.dataclass(frozen=True)
class BlockTrace:
    """What `trace_block` found: the block's name, input shape and stages in the order they ran."""

    name: str
    input_shape: Shape
    stages: tuple[Stage, ...]

    @property
    def output_shape(self) -> Shape:
        return self.stages[-1].output_shape


def trace_block(block_class, *args, input_shape: Shape, **kwargs) -> BlockTrace:
    """Builds `block_class(*args, **kwargs)` and traces one forward pass of an `input_shape` (H, W, C) input.

    The block must be made of `Tower`s (directly, or as a `MixedBlock`'s branches), like every Inception block here.
    """
    block = block_class(*args, **kwargs)
    towers = []  # (path, module, input shape, output shapes of its conv layers), in the order they ran
    conv_shapes = {}  # path of the enclosing module → output shapes of its conv-BN layers, in order
    residuals = {}  # path of the block that owns a ScaledResidual → what it did

    def record(next_fun, call_args, call_kwargs, context):
        out = next_fun(*call_args, **call_kwargs)
        module = context.module
        if context.method_name == "__call__":
            if isinstance(module, ConvBN):
                conv_shapes.setdefault(module.path[:-1], []).append(out.shape[1:])
            elif isinstance(module, Tower):
                towers.append((module.path, module, call_args[0].shape[1:], conv_shapes.pop(module.path, [])))
            elif isinstance(module, ScaledResidual):
                residuals[module.path[:-1]] = Residual(
                    module.scale, module.activation, module.bn_on_summations, out.shape[1:]
                )
        return out

    with nn.intercept_methods(record):
        jax.eval_shape(lambda x: block.init(jax.random.key(0), x), jax.ShapeDtypeStruct((1, *input_shape), jnp.float32))
    name = type(block).__name__
    if not towers or conv_shapes:
        outside = ", ".join("/".join(path) or name for path in conv_shapes) or "none"
        raise ValueError(
            f"{name} is not built from Tower layers (conv layers outside towers: {outside}), so it "
            f"cannot be diagrammed; pass an Inception block such as InceptionA, ReductionA or Stem."
        )

    stages = []  # (owner path, input shape, branches), merged into Stage objects below
    for path, tower, tower_input, convs in towers:
        is_branch = bool(path) and path[-1].startswith("Branch_")
        owner = path[:-1] if is_branch else path
        branch = _branch(tower, tower_input, iter(convs))
        if is_branch and stages and stages[-1][0] == owner:
            stages[-1][2].append(branch)
        else:
            stages.append((owner, tower_input, [branch]))
    return BlockTrace(
        name,
        tuple(input_shape),
        tuple(
            Stage("/".join(owner), shape, tuple(branches), residuals.get(owner)) for owner, shape, branches in stages
        ),
    )


def _branch(tower: Tower, input_shape: Shape, conv_shapes) -> Branch:
    """A tower's layers with their output shapes: convs from the trace, pools from `pool` under eval_shape."""
    rows, shape = [], input_shape
    for spec in tower.layers:
        parallel = spec.layers if isinstance(spec, Split) else (spec,)
        row = tuple(_layer(sub, shape, tower, conv_shapes) for sub in parallel)
        rows.append(row)
        shape = row[0].output_shape
    return tuple(rows)


def _layer(spec, input_shape: Shape, tower: Tower, conv_shapes) -> Layer:
    if isinstance(spec, Conv):
        return Layer("conv", _pair(spec.kernel), _pair(spec.stride), spec.padding, tuple(next(conv_shapes)))
    pooled = jax.eval_shape(
        functools.partial(pool, spec=spec, opts=tower.opts), jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    )
    return Layer(f"{spec.kind} pool", _pair(spec.window), _pair(spec.stride), spec.padding, pooled.shape[1:])


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


# ---------------------------------------------------------------------------------------------------- drawing

COLUMN = 2.5  # width of one branch column, in data units; a row is 1 unit high
BOX_WIDTH, BOX_HEIGHT = 2.25, 0.62
COLOURS = {
    "input": "#ffffff",
    "1×1 conv": "#fff1b8",
    "conv": "#cfe3f6",
    "pool": "#f9d7b5",
    "concat": "#e3e3e3",
    "residual": "#d5ecd0",
}


@dataclasses.dataclass(frozen=True)
class _Box:
    x: float  # centre
    y: float  # centre; y grows downwards
    width: float

    @property
    def top(self) -> tuple[float, float]:
        return self.x, self.y - BOX_HEIGHT / 2

    @property
    def bottom(self) -> tuple[float, float]:
        return self.x, self.y + BOX_HEIGHT / 2


class _Canvas:
    """Boxes and arrows on one Axes, in units where a row is 1 high and a branch column `COLUMN` wide."""

    def __init__(self, ax):
        self.ax = ax

    def box(self, x, y, label, shape, colour, width=BOX_WIDTH) -> _Box:
        self.ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - BOX_HEIGHT / 2),
                width,
                BOX_HEIGHT,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=colour,
                edgecolor="#333333",
                linewidth=0.8,
            )
        )
        self.ax.text(x, y - 0.1, label, ha="center", va="center", fontsize=7.5)
        self.ax.text(x, y + 0.16, "×".join(map(str, shape)), ha="center", va="center", fontsize=6.5, color="#555555")
        return _Box(x, y, width)

    def arrow(self, start, end) -> None:
        self.ax.annotate(
            "", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="#333333", lw=0.8, shrinkA=0, shrinkB=0)
        )

    def shortcut(self, source: _Box, target: _Box, right: float) -> None:
        """The identity connection: out of `source`'s right side, down the right margin, into `target`."""
        self.ax.plot(
            [source.x + source.width / 2, right, right], [source.y, source.y, target.y], color="#2e7d32", lw=1.1
        )
        self.ax.annotate(
            "",
            xy=(target.x + target.width / 2, target.y),
            xytext=(right, target.y),
            arrowprops=dict(arrowstyle="-|>", color="#2e7d32", lw=1.1, shrinkA=0, shrinkB=0),
        )


def _layer_colour(layer: Layer) -> str:
    if layer.kind != "conv":
        return COLOURS["pool"]
    return COLOURS["1×1 conv"] if layer.window == (1, 1) else COLOURS["conv"]


def _rows(stage: Stage) -> int:
    """Rows a stage takes below its input: its deepest branch, then the concat and residual rows."""
    residual_rows = len(_residual_steps(stage.residual)) if stage.residual else 0
    return max(len(branch) for branch in stage.branches) + stage.concatenated + residual_rows


def _residual_steps(residual: Residual) -> list[str]:
    """Labels of the boxes after the concat of a residual block (no scaling box when the scale is 1)."""
    steps = [f"1×1 conv, {residual.output_shape[-1]}, linear"]
    if residual.scale != 1.0:
        steps.append(f"× {residual.scale:g} (residual scale)")
    after_sum = [*(["BN"] if residual.batch_norm else []), *(["ReLU"] if residual.activation else [])]
    return steps + [", ".join(["+ input", *after_sum])]


def _columns(branch: Branch) -> int:
    return max(len(row) for row in branch)


def draw_block(trace: BlockTrace, name: str | None = None) -> Figure:
    """Draws a traced block: one column per branch, every layer a box with its output shape (H×W×C).

    The title is `name` (default: the block's class name) with the block's input and output shapes.
    """
    width = max(sum(map(_columns, stage.branches)) for stage in trace.stages) * COLUMN
    left_margin = 1.3 if len(trace.stages) > 1 else 0.1  # for the names of the stages
    right_margin = 0.7 if any(stage.residual for stage in trace.stages) else 0.1  # for the shortcut
    height = 1 + sum(map(_rows, trace.stages))
    inches = 0.62 * height + 0.9  # the rows, the title above them and the footnote below
    fig = Figure(figsize=(0.8 * (left_margin + width + right_margin) + 0.6, inches))
    ax = fig.add_axes((0.01, 0.4 / inches, 0.98, 1 - 0.85 / inches))
    ax.set_xlim(-left_margin, width + right_margin)
    ax.set_ylim(height - 0.4, -0.6)
    ax.axis("off")
    canvas = _Canvas(ax)

    source = canvas.box(width / 2, 0, "input", trace.input_shape, COLOURS["input"])
    y = 0
    for stage in trace.stages:
        if len(trace.stages) > 1:
            ax.text(
                -left_margin, y + 1, stage.name, ha="left", va="center", fontsize=7, color="#777777", style="italic"
            )
        source, y = _draw_stage(canvas, stage, source, y, width, width + right_margin / 2)
    fig.suptitle(
        f"{name or trace.name}: {'×'.join(map(str, trace.input_shape))} → {'×'.join(map(str, trace.output_shape))}",
        fontsize=10,
    )
    fig.text(
        0.01,
        0.01,
        "Each box shows its output (height×width×channels). V: valid padding, otherwise same. "
        "Every conv is followed by BatchNorm and ReLU unless marked linear.",
        fontsize=6.5,
        color="#555555",
        va="bottom",
        wrap=True,
    )
    return fig


def _draw_stage(canvas: _Canvas, stage: Stage, source: _Box, y: float, width: float, right: float):
    """Draws one stage below row `y`, fed from `source`; returns the box it ends in and its last row."""
    left = (width - sum(map(_columns, stage.branches)) * COLUMN) / 2
    ends = []
    for branch in stage.branches:
        columns = _columns(branch)
        centre = left + columns * COLUMN / 2
        previous = [source]
        for depth, row in enumerate(branch, start=1):
            pitch = columns * COLUMN / len(row)
            boxes = [
                canvas.box(
                    centre + (i - (len(row) - 1) / 2) * pitch,
                    y + depth,
                    layer.label,
                    layer.output_shape,
                    _layer_colour(layer),
                )
                for i, layer in enumerate(row)
            ]
            for parent in previous:
                for box in boxes:
                    canvas.arrow(parent.bottom, box.top)
            previous = boxes
        ends.extend(previous)
        left += columns * COLUMN
    y += max(len(branch) for branch in stage.branches)
    end = ends[0]
    if stage.concatenated:
        y += 1
        end = canvas.box(width / 2, y, "filter concat", stage.concat_shape, COLOURS["concat"], width=width - 0.2)
        for box in ends:
            canvas.arrow(box.bottom, (box.x, end.top[1]))
    if stage.residual:
        for label in _residual_steps(stage.residual):
            y += 1
            box = canvas.box(width / 2, y, label, stage.residual.output_shape, COLOURS["residual"])
            canvas.arrow(end.bottom, box.top)
            end = box
        canvas.shortcut(source, end, right)
    return end, y


def block_diagram(block_class, *args, input_shape: Shape, name: str | None = None, **kwargs) -> Figure:
    """Traces `block_class(*args, **kwargs)` on an `input_shape` (H, W, C) input and draws it, titled `name`.

    block_diagram(InceptionResNetA, NetOptions(), (32, 32, 32, 32, 48, 64), 0.17, input_shape=(35, 35, 384),
                  name="Figure 16: Inception-ResNet-A")
    """
    return draw_block(trace_block(block_class, *args, input_shape=input_shape, **kwargs), name)
