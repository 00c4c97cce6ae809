"""What tests/conftest.py sets up for every test process, checked where it must have taken effect."""

import subprocess
import sys

import blas_core


def test_openblas_runs_one_thread_here_and_in_the_processes_tests_start():
    # Read by OpenBLAS once, when numpy loads it: this shows conftest.py set it before anything imported numpy.
    assert blas_core.threads() == "1"
    command = [sys.executable, blas_core.__file__, "--threads"]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip() == "1"
