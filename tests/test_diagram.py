"""Block diagrams are traced from the modules: branches, layers, shapes and the residual add come from the code."""

import io

import pytest

from inception_jax.diagram import block_diagram, trace_block
from inception_jax.models.inception_resnet import InceptionResNetA, InceptionResNetV2
from inception_jax.models.inception_v4 import InceptionA, InceptionC, ReductionA, Stem
from inception_jax.models.layers import ConvBN, NetOptions


def _labels(stage):
    return [[" | ".join(layer.label for layer in row) for row in branch] for branch in stage.branches]


def test_inception_a_traces_to_figure_4s_four_branches():
    trace = trace_block(InceptionA, NetOptions(), input_shape=(35, 35, 384))
    (stage,) = trace.stages
    assert _labels(stage) == [
        ["1×1 conv, 96"],
        ["1×1 conv, 64", "3×3 conv, 96"],
        ["1×1 conv, 64", "3×3 conv, 96", "3×3 conv, 96"],
        ["3×3 avg pool", "1×1 conv, 96"],
    ]
    assert stage.branches[3][0][0].output_shape == (35, 35, 384)  # the pool keeps the input's channels
    assert stage.concatenated and stage.residual is None
    assert trace.output_shape == (35, 35, 384)


def test_widths_are_the_traced_ones_not_the_specs():
    trace = trace_block(InceptionA, NetOptions(width_multiplier=0.5), input_shape=(35, 35, 384))
    assert _labels(trace.stages[0])[2] == ["1×1 conv, 32", "3×3 conv, 48", "3×3 conv, 48"]
    assert trace.output_shape == (35, 35, 48 + 48 + 48 + 48)


def test_reduction_marks_strides_and_valid_padding_and_shrinks_the_grid():
    trace = trace_block(ReductionA, NetOptions(), 192, 224, 256, 384, input_shape=(35, 35, 384))
    assert _labels(trace.stages[0]) == [
        ["3×3 conv, 384, stride 2 V"],
        ["1×1 conv, 192", "3×3 conv, 224", "3×3 conv, 256, stride 2 V"],
        ["3×3 max pool, stride 2 V"],
    ]
    assert trace.output_shape == (17, 17, 384 + 256 + 384)


def test_split_ends_a_branch_with_parallel_layers():
    trace = trace_block(InceptionC, NetOptions(), input_shape=(8, 8, 1536))
    assert _labels(trace.stages[0])[1] == ["1×1 conv, 384", "1×3 conv, 256 | 3×1 conv, 256"]
    assert trace.output_shape == (8, 8, 1536)


def test_residual_block_records_scale_and_sum():
    trace = trace_block(InceptionResNetA, NetOptions(), InceptionResNetV2.widths_a, 0.17, input_shape=(35, 35, 384))
    (stage,) = trace.stages
    assert len(stage.branches) == 3 and stage.concat_shape == (35, 35, 32 + 32 + 64)
    assert (stage.residual.scale, stage.residual.activation, stage.residual.batch_norm) == (0.17, True, False)
    assert trace.output_shape == (35, 35, 384)


def test_batch_norm_on_the_sum_is_recorded_when_the_option_adds_it():
    trace = trace_block(
        InceptionResNetA,
        NetOptions(),
        InceptionResNetV2.widths_a,
        0.17,
        bn_on_summations=True,
        input_shape=(35, 35, 384),
    )
    assert trace.stages[0].residual.batch_norm


def test_stem_is_a_chain_then_three_concatenations():
    trace = trace_block(Stem, NetOptions(), input_shape=(299, 299, 3))
    assert [stage.name for stage in trace.stages] == ["Tower", "Mixed_3a", "Mixed_4a", "Mixed_5a"]
    assert [stage.input_shape for stage in trace.stages] == [
        (299, 299, 3),
        (147, 147, 64),
        (73, 73, 160),
        (71, 71, 192),
    ]
    assert not trace.stages[0].concatenated and len(trace.stages[0].branches[0]) == 3
    assert [stage.output_shape for stage in trace.stages] == [
        (147, 147, 64),
        (73, 73, 160),
        (71, 71, 192),
        (35, 35, 384),
    ]


def test_diagram_renders_to_png_with_every_layer_and_the_residual_steps():
    fig = block_diagram(InceptionResNetA, NetOptions(), InceptionResNetV2.widths_a, 0.17, input_shape=(35, 35, 384))
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert texts.count("1×1 conv, 32") == 3 and "filter concat" in texts
    assert "1×1 conv, 384, linear" in texts and "× 0.17 (residual scale)" in texts and "+ input, ReLU" in texts
    png = io.BytesIO()
    fig.savefig(png, format="png")
    assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n" and len(png.getvalue()) > 20_000


def test_a_layer_that_is_not_a_block_is_refused():
    with pytest.raises(ValueError, match="not built from Tower layers"):
        block_diagram(ConvBN, NetOptions(), 64, 3, input_shape=(35, 35, 32))
