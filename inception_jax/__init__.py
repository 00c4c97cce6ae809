"""inception_jax: the networks of "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning" (Szegedy et al., 2016) as Flax Linen modules, with the paper's training recipe.

    model = inception_jax.create_model("inception_resnet_v2", num_classes=1000)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 299, 299, 3)), train=False)
    logits = model.apply(variables, images, train=False)
    logits, endpoints = inception_jax.forward_with_endpoints(model, variables, images)

Importing this package never imports TensorFlow; only `inception_jax.data` does.
"""

from inception_jax.endpoints import forward_with_endpoints
from inception_jax.models import create_model, get_model_class, list_models
from inception_jax.models.layers import ENDPOINTS

__all__ = ["create_model", "list_models", "get_model_class", "forward_with_endpoints", "ENDPOINTS"]
__version__ = "0.1.0"
