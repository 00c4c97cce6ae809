"""Test-wide JAX set-up, done before JAX initialises its backend.

* 8 CPU devices for the sharding tests.
* A persistent compilation cache shared by every test process and subprocess: the end-to-end tests train
  the same tiny network several times, and compiling its initialiser dominates their run time.
"""
import os
import tempfile

os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "inception_jax_test_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402  (after the environment above)

jax.config.update("jax_num_cpu_devices", 8)
