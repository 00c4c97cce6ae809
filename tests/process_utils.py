"""Runs Python code in a fresh interpreter from the repository root: what an import loads shows only there."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_output_lines(code: str) -> list[str]:
    """The lines `code` prints, run by this Python on the CPU; a failure shows the end of its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()
