"""Input pipeline: datasets, Inception preprocessing and sharded global batches (`inception_jax.data.pipeline`).

TensorFlow is imported only inside this package, and only for its CPU input ops.
"""
import logging

import tensorflow as tf

try:
    # JAX owns the accelerators; TF must not grab GPU memory for input ops.
    tf.config.set_visible_devices([], "GPU")
except RuntimeError:  # TF already initialised its devices elsewhere in this process.
    logging.getLogger(__name__).warning("TensorFlow was initialised before inception_jax.data; it may use GPUs.")
