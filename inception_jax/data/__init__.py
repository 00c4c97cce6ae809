"""Input pipeline: datasets, Inception preprocessing and sharded global batches (`inception_jax.data.pipeline`).

TensorFlow is imported only inside this package, and only for its CPU input ops. Importing it changes no
TensorFlow settings; the pipeline hides the accelerators from TensorFlow when it opens a dataset.
"""
