"""inception_jax: the networks of "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning" (Szegedy et al., 2016) as Flax Linen modules, with the paper's training recipe.

    model = inception_jax.create_model("inception_resnet_v2", num_classes=1000)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 299, 299, 3)), train=False)
    logits = model.apply(variables, images, train=False)
    logits, endpoints = inception_jax.forward_with_endpoints(model, variables, images)
    module, variables, spec = inception_jax.pretrained.load("inception_v4.tf_in1k")  # named, downloaded weights

Importing this package never imports TensorFlow; only `inception_jax.data` does. On a machine without an
accelerator it adds the tuned XLA:CPU flag to XLA_FLAGS if JAX has not started yet (`inception_jax.xla_cpu`;
INCEPTION_JAX_STOCK_XLA=1 leaves XLA_FLAGS alone).
"""

from inception_jax import xla_cpu

xla_cpu.tune_on_import()  # before anything here can start JAX's backend

from inception_jax.endpoints import forward_with_endpoints  # noqa: E402  (after the XLA_FLAGS set-up)
from inception_jax.models import create_model, get_model_class, list_models  # noqa: E402
from inception_jax.models.layers import ENDPOINTS  # noqa: E402

__all__ = ["create_model", "list_models", "get_model_class", "forward_with_endpoints", "ENDPOINTS"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """`inception_jax.pretrained` (weights by name) is imported on first use: it brings in the converters."""
    if name == "pretrained":
        import importlib  # noqa: PLC0415

        return importlib.import_module("inception_jax.pretrained")
    raise AttributeError(f"module 'inception_jax' has no attribute {name!r}")
