"""Which OpenBLAS kernels numpy and SciPy use here, and a second set this CPU can run (`make test` runs the tests
marked `blas` again with it, through OPENBLAS_CORETYPE); also how many threads OpenBLAS runs.

    python tests/blas_core.py            # the kernels in use, e.g. SkylakeX
    python tests/blas_core.py --other    # a different set this CPU runs, e.g. Haswell; nothing off x86
    python tests/blas_core.py --threads  # OpenBLAS's thread count, e.g. 1 (tests/conftest.py sets it)

OpenBLAS picks its kernels by CPU (SkylakeX with AVX-512, Haswell with AVX2, ...), and they round differently: a
golden of linear algebra must hold on every set, not on the one of the machine it came from.
"""

from __future__ import annotations

import platform
import sys

from threadpoolctl import threadpool_info

AVX512_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")


def _openblas() -> list[dict]:
    """threadpoolctl's records of the OpenBLAS that numpy loaded (SciPy shares it)."""
    import numpy  # noqa: F401, PLC0415  (loads OpenBLAS, which threadpoolctl then reports)

    return [info for info in threadpool_info() if info.get("internal_api") == "openblas"]


def current() -> str:
    """The kernel set of the OpenBLAS that numpy loaded."""
    return ", ".join(sorted({info["architecture"] for info in _openblas()})) or "none"


def threads() -> str:
    """The thread count of the OpenBLAS that numpy loaded."""
    return ", ".join(sorted({str(info["num_threads"]) for info in _openblas()})) or "none"


def other() -> str:
    """A kernel set other than `current()` that this x86 CPU runs, or "" elsewhere."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return ""
    flags = set()
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    in_use = current()
    if in_use in AVX512_CORES:
        return "Haswell"
    if "avx512f" in flags:
        return "SkylakeX"
    return "Sandybridge" if in_use != "Sandybridge" else "Prescott"


if __name__ == "__main__":
    print({"--other": other, "--threads": threads}.get(" ".join(sys.argv[1:]), current)())
