"""What tests/conftest.py sets up for every test process, checked where it must have taken effect."""

import os
import subprocess
import sys

import blas_core
from process_utils import python_output_lines

from inception_jax import xla_cpu


def test_openblas_runs_one_thread_here_and_in_the_processes_tests_start():
    # Read by OpenBLAS once, when numpy loads it: this shows conftest.py set it before anything imported numpy.
    assert blas_core.threads() == "1"
    command = [sys.executable, blas_core.__file__, "--threads"]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip() == "1"


def test_the_processes_tests_start_get_an_optimization_level_and_the_tuned_flags_and_import_tensorflow_without_keras():
    # Level 0 unless the caller of `make test` chose one (docs/development.md); either way, a single level.
    program = "import os, sys, tensorflow; print(os.environ['XLA_FLAGS']); print('keras' in sys.modules)"
    xla_flags, keras_loaded = python_output_lines(program)[-2:]
    assert xla_flags == os.environ["XLA_FLAGS"]
    levels = [flag for flag in xla_flags.split() if flag.startswith("--xla_backend_optimization_level=")]
    assert len(levels) == 1 and set(xla_cpu.TUNED_XLA_FLAGS) <= set(xla_flags.split()), xla_flags
    assert keras_loaded == "False"
