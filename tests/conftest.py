"""Test-wide JAX set-up: 8 CPU devices for the sharding tests, set before JAX initialises its backend."""
import jax

jax.config.update("jax_num_cpu_devices", 8)
