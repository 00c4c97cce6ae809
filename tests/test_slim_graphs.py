"""The authors' own graphs: tf-slim's `inception_v3`, `inception_v2` and `inception_v1`, built by slim's code with
random values in every variable and saved by `tf.compat.v1.train.Saver` (tests/slim_graphs.py), convert through
the unmodified `from_slim` to networks that compute slim's logits (and aux logits) at full size."""

import jax
import numpy as np
import pytest
from parity import assert_max_abs
from slim_graphs import GRAPHS, build_and_run

from inception_jax import forward_with_endpoints
from inception_jax.convert import from_slim
from inception_jax.models import googlenet

# Measured 2026-12-03 (JAX 0.10.2 on CPU against TensorFlow 2.21 on CPU): max-abs over the logits (and v3's aux
# logits), which reach 1.2–2.7; asserted with a margin of 3×.
MEASURED = {"inception_v3": 8.4e-7, "bn_inception": 1.8e-6, "googlenet": 1.5e-6}
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def images(size: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(-1.0, 1.0, (2, size, size, 3)).astype(np.float32)


@pytest.fixture(scope="module", params=list(GRAPHS))
def converted(request, tmp_path_factory):
    """(name, slim's outputs, the converted module and variables) for one graph, built once."""
    name = request.param
    prefix = str(tmp_path_factory.mktemp(name) / "model.ckpt")
    slim_outputs = build_and_run(name, prefix, images(GRAPHS[name].image_size))
    module, variables, _ = from_slim(name, prefix)
    return name, slim_outputs, module, variables


def test_logits_equal_slims_at_full_size(converted):
    name, slim_outputs, module, variables = converted
    graph = GRAPHS[name]
    logits, endpoints = jax.jit(lambda v, x: forward_with_endpoints(module, v, x))(variables, images(graph.image_size))
    background = int(graph.num_classes == 1001)  # dropped by from_slim
    assert_max_abs(f"{name} against slim's graph", logits, slim_outputs["Logits"][:, background:], MEASURED[name])
    if graph.aux_logits:
        assert_max_abs(
            f"{name}'s aux logits against slim's graph",
            endpoints["AuxLogits"],
            slim_outputs["AuxLogits"][:, background:],
            MEASURED[name],
        )


def test_module_is_slims_variant(converted):
    name, slim_outputs, module, variables = converted
    assert module.num_classes == slim_outputs["Logits"].shape[-1] - (name == "inception_v3")
    assert not module.bn_use_scale and module.bn_epsilon == 1e-3 and module.dropout_rate == 0.2
    if name == "inception_v3":
        assert module.aux_head and not module.avg_pool_count_include_pad
    if name == "bn_inception":
        assert module.separable_stem and "Conv2d_1a_7x7" not in variables["batch_stats"]
    if name == "googlenet":
        assert {option: getattr(module, option) for option in googlenet.SLIM_OPTIONS} == googlenet.SLIM_OPTIONS
