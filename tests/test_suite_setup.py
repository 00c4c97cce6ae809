"""What tests/conftest.py sets up for every test process, checked where it must have taken effect."""

import subprocess
import sys

import blas_core

from inception_jax import xla_cpu


def test_openblas_runs_one_thread_here_and_in_the_processes_tests_start():
    # Read by OpenBLAS once, when numpy loads it: this shows conftest.py set it before anything imported numpy.
    assert blas_core.threads() == "1"
    command = [sys.executable, blas_core.__file__, "--threads"]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip() == "1"


def test_the_processes_tests_start_compile_at_level_0_with_the_tuned_flags_and_import_tensorflow_without_keras():
    program = "import os, sys, tensorflow; print(os.environ['XLA_FLAGS']); print('keras' in sys.modules)"
    xla_flags, keras_loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split("\n")[:2]
    assert set(xla_flags.split()) == {"--xla_backend_optimization_level=0", *xla_cpu.TUNED_XLA_FLAGS}
    assert keras_loaded == "False"
