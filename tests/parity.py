"""The parity assertion of the converter tests: the figures in docs/weights.md are the `measured` values passed here."""

import numpy as np

# Each tolerance is this many times the error measured when the test was written (stated next to each figure).
MARGIN = 3.0


def assert_max_abs(what: str, actual, expected, measured: float) -> float:
    """Asserts that max |actual − expected| stays under `MARGIN` × `measured`, and says both on failure."""
    error = float(np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64)).max())
    assert error < MARGIN * measured, (
        f"{what}: max-abs difference {error:.2e}; measured {measured:.1e} when the "
        f"test was written, tolerance {MARGIN * measured:.1e}"
    )
    return error
