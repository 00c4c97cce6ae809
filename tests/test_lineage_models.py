"""The networks that led to Inception (AlexNet, ZFNet, NIN, VGG, GoogLeNet) and ResNet: exact parameter counts,
published costs, the papers' feature-map sizes, input limits, and a few compiled forward passes.

Everything but the last section runs under `jax.eval_shape`: nothing is compiled.
"""

import dataclasses
import inspect
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_utils import random_variables

import inception_jax
from inception_jax.models import alexnet, get_model_class, googlenet
from inception_jax.models.classic import ALEXNET_LRN, adaptive_avg_pool, max_pool
from inception_jax.models.layers import LayerOptions, NetOptions
from inception_jax.models.resnet import ZERO_PADDING, Shortcut
from inception_jax.summary import count_macs, count_params, endpoint_shapes, summarize

LINEAGE_MODULES = ("alexnet", "nin", "vgg", "googlenet", "resnet")
LINEAGE = [
    name
    for name in inception_jax.list_models()
    if inception_jax.get_model_class(name).__module__.rsplit(".", 1)[-1] in LINEAGE_MODULES
]


def case(name: str, expected: int, label: str = "", **options):
    return pytest.param(name, options, expected, id=f"{name}-{label}" if label else name)


TORCHVISION_GOOGLENET = googlenet.TORCHVISION_OPTIONS

# Published counts at 1000 classes: the AlexNet paper's network (both ways of splitting it), torchvision's.
EXACT = [
    case("alexnet", 60_965_224),
    case("alexnet", 62_378_344, "one-tower", groups=1),
    case("alexnet", 61_100_840, "torchvision", **alexnet.TORCHVISION_OPTIONS),
    case("vgg11", 132_863_336),
    case("vgg13", 133_047_848),
    case("vgg16", 138_357_544),
    case("vgg19", 143_667_240),
    case("googlenet", 6_624_904, "torchvision-without-aux", **dict(TORCHVISION_GOOGLENET, aux_head=False)),
    case("googlenet", 13_004_888, "torchvision", **TORCHVISION_GOOGLENET),
    case("googlenet", 6_617_624, "slim", **googlenet.SLIM_OPTIONS),  # slim inception_v1's trainable variables
    case("resnet18", 11_689_512),
    case("resnet34", 21_797_672),
    case("resnet50", 25_557_032),
    case("resnet50", 25_557_032, "v1.5", stride_on_3x3=True),  # v1 and v1.5 differ in cost only
    case("resnet101", 44_549_160),
    case("resnet152", 60_192_808),
]

# Derived here (no exact published figure); the docstrings state them. CIFAR networks with 10 classes.
DERIVED = [
    case("zfnet", 62_357_608),
    case("nin", 7_595_176),
    case("googlenet", 13_378_280),
    case("googlenet", 6_998_552, "without-aux", aux_head=False),
    case("vgg11_lrn", 132_863_336),  # LRN has no parameters
    case("vgg16_c", 133_638_952),
    case("preact_resnet18", 11_687_720),
    case("preact_resnet34", 21_795_880),
    case("preact_resnet50", 25_549_352),
    case("preact_resnet101", 44_541_480),
    case("preact_resnet152", 60_185_128),
    case("plain18", 11_515_688),
    case("plain34", 21_623_848),
    case("resnet20", 269_722, num_classes=10),
    case("resnet32", 464_154, num_classes=10),
    case("resnet44", 658_586, num_classes=10),
    case("resnet56", 853_018, num_classes=10),
    case("resnet110", 1_727_962, num_classes=10),
    case("plain20", 269_722, num_classes=10),  # option A shortcuts have no parameters
    case("plain56", 853_018, num_classes=10),
]


@pytest.mark.parametrize("name, options, expected", EXACT + DERIVED)
def test_parameter_counts(name, options, expected):
    assert count_params(inception_jax.create_model(name, **options)) == expected


def test_every_lineage_network_has_a_pinned_count():
    assert set(LINEAGE) == {param.values[0] for param in EXACT + DERIVED}


def test_pinned_cifar_counts_round_to_the_papers_table_6():
    pinned = {param.values[0]: param.values[2] for param in DERIVED}
    table_6 = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}
    assert {name: round(pinned[name] / 1e6, 2 if millions < 1 else 1) for name, millions in table_6.items()} == table_6


@pytest.mark.parametrize(
    "name, options, gmacs",
    [
        ("resnet18", {}, 1.8),
        ("resnet34", {}, 3.6),
        ("resnet50", {}, 3.8),  # Table 1's "FLOPs" (multiply-adds)
        ("resnet50", {"stride_on_3x3": True}, 4.09),  # torchvision's ResNet-50 (v1.5)
        ("vgg16", {}, 15.47),
        ("alexnet", alexnet.TORCHVISION_OPTIONS, 0.71),  # torchvision's
        ("googlenet", TORCHVISION_GOOGLENET, 1.50),
        ("googlenet", {}, 1.5),  # the paper's "1.5 billion"
    ],
)
def test_multiply_accumulates_match_published(name, options, gmacs):
    assert count_macs(inception_jax.create_model(name, **options)) / 1e9 == pytest.approx(gmacs, rel=0.06)


# ---------------------------------------------------------------- feature-map sizes of the papers' figures


def test_alexnet_figure_2_sizes_at_227():
    shapes = endpoint_shapes(inception_jax.create_model("alexnet"))
    assert [shapes[name] for name in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")] == [
        (55, 55, 96),
        (27, 27, 96),
        (27, 27, 256),
        (13, 13, 256),
        (13, 13, 384),
        (13, 13, 384),
        (13, 13, 256),
        (6, 6, 256),
    ]
    assert shapes["fc7"] == shapes["PreLogits"] == (4096,) and shapes["Logits"] == (1000,)


def test_zfnet_figure_3_sizes_at_224():
    shapes = endpoint_shapes(inception_jax.create_model("zfnet"))
    assert [shapes[name][0] for name in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        110,
        55,
        26,
        13,
        13,
        6,
    ]


def test_slim_googlenet_base_has_slims_model_variable_count():
    # slim's inception_v1_test constant: inception_v1_base's model variables, moving statistics included.
    model = inception_jax.create_model("googlenet", **dict(googlenet.SLIM_OPTIONS, num_classes=0))
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 3)))
    assert sum(leaf.size for leaf in jax.tree.leaves(variables)) == 5_607_184


def test_googlenet_table_1_sizes_at_224():
    shapes = endpoint_shapes(inception_jax.create_model("googlenet"))
    table_1 = {
        "Conv2d_1a_7x7": (112, 112, 64),
        "MaxPool_2a_3x3": (56, 56, 64),
        "Conv2d_2c_3x3": (56, 56, 192),
        "MaxPool_3a_3x3": (28, 28, 192),
        "Mixed_3b": (28, 28, 256),
        "Mixed_3c": (28, 28, 480),
        "MaxPool_4a_3x3": (14, 14, 480),
        "Mixed_4b": (14, 14, 512),
        "Mixed_4c": (14, 14, 512),
        "Mixed_4d": (14, 14, 512),
        "Mixed_4e": (14, 14, 528),
        "Mixed_4f": (14, 14, 832),
        "MaxPool_5a_3x3": (7, 7, 832),
        "Mixed_5b": (7, 7, 832),
        "Mixed_5c": (7, 7, 1024),
        "PreLogits": (1024,),
        "AuxLogits": (1000,),
        "AuxLogits2": (1000,),
    }
    assert {name: shapes[name] for name in table_1} == table_1


@pytest.mark.parametrize(
    "name, size, stages",
    [
        (
            "resnet50",
            224,
            {"conv2_3": (56, 56, 256), "conv3_4": (28, 28, 512), "conv4_6": (14, 14, 1024), "conv5_3": (7, 7, 2048)},
        ),
        ("resnet20", 32, {"conv2_3": (32, 32, 16), "conv3_3": (16, 16, 32), "conv4_3": (8, 8, 64)}),
    ],
)
def test_resnet_stage_sizes(name, size, stages):
    shapes = endpoint_shapes(inception_jax.create_model(name), size)
    assert {stage: shapes[stage] for stage in stages} == stages


# ---------------------------------------------------------------- summary command, input sizes, options

FAMILY_REPRESENTATIVES = [
    "alexnet",
    "zfnet",
    "nin",
    "vgg11",
    "googlenet",
    "resnet18",
    "preact_resnet18",
    "plain18",
    "resnet20",
    "plain20",
]


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_summary_prints_params_macs_and_endpoints(name):
    # Deeper variants differ from these only in their block counts, which the parameter counts above cover.
    out = summarize(inception_jax.create_model(name))
    assert f"parameters: {count_params(inception_jax.create_model(name)):,}" in out
    assert "multiply-accumulates:" in out and "PrePool" in out and "Logits" in out


def test_summary_command_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "inception_jax.summary", "--model=alexnet"], check=True, capture_output=True, text=True
    ).stdout
    assert "parameters: 60,965,224" in out and "pool5            6×6×256" in out


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_minimum_input_leaves_every_feature_map_non_empty(name):
    model = inception_jax.create_model(name)
    shapes = endpoint_shapes(model, model.min_size)
    assert all(min(shape) >= 1 for shape in shapes.values())


@pytest.mark.parametrize("name", LINEAGE)
def test_input_below_the_minimum_raises_and_names_it(name):
    model = inception_jax.create_model(name)
    size = model.min_size
    with pytest.raises(ValueError, match=f"at least {size}×{size}"):
        jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, size - 1, size + 8, 3)))


@pytest.mark.parametrize("name", [name for name in LINEAGE if name != "googlenet"])
def test_aux_head_is_refused_where_the_paper_has_none(name):
    model = inception_jax.create_model(name, aux_head=True)
    with pytest.raises(ValueError, match="no auxiliary classifier; create it with aux_head=False"):
        jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, model.default_size, model.default_size, 3)))


@pytest.mark.parametrize(
    "name, features", [("alexnet", 4096), ("vgg11", 4096), ("nin", 1024), ("resnet50", 2048), ("googlenet", 1024)]
)
def test_num_classes_zero_returns_the_prelogits_features(name, features):
    model = inception_jax.create_model(name, num_classes=0)
    images = jnp.zeros((2, model.min_size, model.min_size, 3))
    variables = jax.eval_shape(model.init, jax.random.key(0), images)
    assert jax.eval_shape(model.apply, variables, images).shape == (2, features)


@pytest.mark.parametrize("name", ["resnet50", "preact_resnet50", "resnet20", "googlenet"])
def test_reduced_width_keeps_shortcuts_and_branches_consistent(name):
    model = inception_jax.create_model(name, width_multiplier=0.25, min_depth=8)
    shapes = endpoint_shapes(model, model.min_size)
    assert shapes["PreLogits"][0] == {"resnet50": 512, "preact_resnet50": 512, "resnet20": 16, "googlenet": 256}[name]


@pytest.mark.parametrize("name", ["googlenet", "resnet20", "vgg11"])
def test_block_remat_traces(name):
    model = inception_jax.create_model(name, remat="block")
    images = jnp.zeros((1, model.min_size, model.min_size, 3))
    variables = jax.eval_shape(model.init, jax.random.key(0), images)
    assert jax.eval_shape(
        lambda v: model.apply(v, images, train=True, mutable=["batch_stats"], rngs={"dropout": jax.random.key(0)}),
        variables,
    )


# ---------------------------------------------------------------- the layers, numerically


def test_local_response_norm_is_the_alexnet_formula():
    x = np.random.default_rng(0).normal(size=(1, 2, 2, 7)).astype(np.float32)
    expected = np.empty_like(x)
    for i in range(7):  # b_i = a_i / (k + α Σ_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j²)^β
        window = x[..., max(0, i - 2) : min(6, i + 2) + 1]
        expected[..., i] = x[..., i] / (2.0 + 1e-4 * (window**2).sum(-1)) ** 0.75
    np.testing.assert_allclose(ALEXNET_LRN(jnp.asarray(x)), expected, rtol=1e-6)


def test_ceil_mode_pool_rounds_up_and_adaptive_pool_overlaps_like_pytorch():
    def columns(width):  # a width×width map whose values are the column indices
        return jnp.tile(jnp.arange(float(width)), (width, 1))[None, :, :, None]

    def first_row(x):
        return x[0, 0, :, 0].tolist()

    assert first_row(max_pool(columns(7), 3, 2)) == [2.0, 4.0, 6.0]  # floor((7 - 3) / 2) + 1 = 3 windows
    assert first_row(max_pool(columns(8), 3, 2, ceil_mode=True)) == [2.0, 4.0, 6.0, 7.0]  # the 4th window is cut
    assert first_row(max_pool(columns(8), 3, 2, padding=1)) == [1.0, 3.0, 5.0, 7.0]  # ResNet's stem pool
    assert first_row(adaptive_avg_pool(columns(3), 2)) == [0.5, 1.5]  # bins [0, 1] and [1, 2] overlap


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = jnp.arange(2 * 4 * 4 * 16, dtype=jnp.float32).reshape(2, 4, 4, 16)
    out = Shortcut(NetOptions(), ZERO_PADDING, 32, 2).apply({}, x)
    np.testing.assert_array_equal(out[..., :16], x[:, ::2, ::2])
    assert out.shape == (2, 2, 2, 32) and not out[..., 16:].any()


# ---------------------------------------------------------------- compiled forward passes on small networks


def test_cifar_resnet_trains_batch_stats_and_evaluates():
    model = inception_jax.create_model("resnet20", num_classes=10)
    variables = random_variables(model, 32)
    images = jax.random.uniform(jax.random.key(1), (4, 32, 32, 3), minval=-1, maxval=1)
    train_logits, state = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(
        variables, images
    )
    changed = jax.tree.map(lambda a, b: not np.allclose(a, b), variables["batch_stats"], state["batch_stats"])
    assert all(jax.tree.leaves(changed))
    eval_logits = jax.jit(model.apply)(variables, images)
    assert eval_logits.shape == train_logits.shape == (4, 10) and np.isfinite(eval_logits).all()
    assert not np.allclose(eval_logits, train_logits)  # batch statistics in training, moving averages in eval


def test_alexnet_has_no_batch_stats_and_drops_out_in_training_only():
    model = inception_jax.create_model("alexnet", width_multiplier=0.25, num_classes=10)
    variables = random_variables(model, 67)
    assert set(variables) == {"params"}
    images = jax.random.uniform(jax.random.key(2), (2, 67, 67, 3), minval=-1, maxval=1)
    train = jax.jit(lambda key: model.apply(variables, images, train=True, rngs={"dropout": key}))
    assert not np.allclose(train(jax.random.key(0)), train(jax.random.key(1)))
    evaluate = jax.jit(lambda key: model.apply(variables, images, rngs={"dropout": key}))
    np.testing.assert_array_equal(evaluate(jax.random.key(0)), evaluate(jax.random.key(1)))


def test_googlenet_side_classifiers_run_in_training():
    model = inception_jax.create_model("googlenet", width_multiplier=0.25, num_classes=10)
    variables = random_variables(model, 64)
    images = jax.random.uniform(jax.random.key(3), (2, 64, 64, 3), minval=-1, maxval=1)
    logits, endpoints, _ = jax.jit(
        lambda v, x: inception_jax.forward_with_endpoints(model, v, x, train=True, rngs={"dropout": jax.random.key(0)})
    )(variables, images)
    assert logits.shape == endpoints["AuxLogits"].shape == endpoints["AuxLogits2"].shape == (2, 10)
    assert googlenet.AUX_LOSS_WEIGHT == 0.3


# ---------------------------------------------------------------- one set of options, named variants


def test_every_network_takes_the_shared_options_declared_once():
    shared = {field.name for field in dataclasses.fields(LayerOptions) if field.name not in ("parent", "name")}
    shared |= {"num_classes", "dropout_rate", "aux_head", "remat"}
    assert {field.name for field in dataclasses.fields(NetOptions)} == shared - {
        "num_classes",
        "dropout_rate",
        "aux_head",
        "remat",
    }
    for name in inception_jax.list_models():
        options = {field.name for field in dataclasses.fields(get_model_class(name))}
        assert shared <= options, (name, shared - options)
        if any(family in name for family in ("resnet", "plain")):
            assert "block_counts" in options, name


def test_resnet_block_counts_is_an_option_like_inception_resnets():
    full, shallow = (
        count_params(inception_jax.create_model("resnet50", **options))
        for options in ({}, {"block_counts": (1, 1, 1, 1)})
    )
    assert shallow < full
    assert count_params(inception_jax.create_model("resnet50", block_counts=(3, 4, 6, 3))) == full == 25_557_032


@pytest.mark.parametrize("name", inception_jax.list_models())
def test_every_variant_is_a_class_grep_finds_in_its_family_module(name):
    cls = get_model_class(name)
    assert f"class {cls.__name__}(" in inspect.getsource(sys.modules[cls.__module__]), name
