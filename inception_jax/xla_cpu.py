"""The XLA:CPU compiler flags these networks run fastest with, and when they are set.

XLA:CPU hands convolutions to YNNPACK by default; on Inception's large stem feature maps its weight-gradient
convolutions are several times slower than XLA's own, and without them a train step is ~1.5× faster
(docs/performance.md). A CPU compiler option: other backends never read it.

`import inception_jax` calls `tune_on_import()`, so that a program importing the networks gets the speed the
tools get without setting anything: on a machine without an accelerator, before JAX has started its backend, it
adds `TUNED_XLA_FLAGS` to XLA_FLAGS (leaving any flag of the same name the user set), and logs it once. If JAX
had already started, XLA_FLAGS can no longer change: it warns once, naming the flag. `INCEPTION_JAX_STOCK_XLA=1`
in the environment leaves XLA_FLAGS alone, as the tools' `--stock_xla` does.
"""

from __future__ import annotations

import logging
import os
import warnings

TUNED_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)
OPT_OUT_ENV = "INCEPTION_JAX_STOCK_XLA"
# Train-step speed-up of the tuned flags over none on the three Inception networks, batch 8, 299 px, 2 Zen 4 cores
# (docs/performance.md, "XLA:CPU configurations").
MEASURED_SPEEDUP = "1.2–1.4×"

# XLA_FLAGS as the process had them before this library changed anything.
_stock_xla_flags = os.environ.get("XLA_FLAGS")
_log = logging.getLogger(__name__)


def accelerator_present() -> bool:
    """Whether this machine shows a GPU or TPU device (looked up without starting JAX's backend)."""
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms:
        return "cpu" not in platforms.split(",")[0]
    return any(os.path.exists(path) for path in ("/dev/nvidia0", "/dev/kfd", "/dev/accel0", "/dev/vfio/0"))


def stock_xla_flags() -> str:
    """XLA_FLAGS as the user set them, before `use_tuned_xla_flags`."""
    return _stock_xla_flags or ""


def missing_tuned_flags() -> list[str]:
    """The tuned flags that XLA_FLAGS lacks (a flag of the same name set to another value counts as present)."""
    names = {flag.split("=", 1)[0] for flag in os.environ.get("XLA_FLAGS", "").split()}
    return [flag for flag in TUNED_XLA_FLAGS if flag.split("=", 1)[0] not in names]


def use_tuned_xla_flags() -> None:
    """Adds `TUNED_XLA_FLAGS` to XLA_FLAGS, except flags the user set; call before JAX starts its backend."""
    added = missing_tuned_flags()
    if added:
        os.environ["XLA_FLAGS"] = " ".join([*os.environ.get("XLA_FLAGS", "").split(), *added])
        _log.info("XLA_FLAGS += %s (%s=1 or a tool's --stock_xla leaves them out)", " ".join(added), OPT_OUT_ENV)


def use_stock_xla_flags() -> None:
    """Puts XLA_FLAGS back as the user set them (a tool's `--stock_xla`); before JAX starts its backend."""
    if _stock_xla_flags is None:
        os.environ.pop("XLA_FLAGS", None)
    else:
        os.environ["XLA_FLAGS"] = _stock_xla_flags


def _backend_started() -> bool:
    from jax._src import xla_bridge  # noqa: PLC0415  (no public way to ask without starting it)

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started and started())


def tune_on_import() -> None:
    """What `import inception_jax` does about XLA_FLAGS (see the module docstring)."""
    if os.environ.get(OPT_OUT_ENV, "") not in ("", "0") or accelerator_present() or not missing_tuned_flags():
        return
    if not _backend_started():
        use_tuned_xla_flags()
        return
    warnings.warn(
        f"JAX started its CPU backend before inception_jax was imported, so XLA_FLAGS lacks "
        f"{' '.join(missing_tuned_flags())}: these networks train about {MEASURED_SPEEDUP} faster with it. Import "
        f"inception_jax before using JAX, or put the flag in XLA_FLAGS yourself ({OPT_OUT_ENV}=1 silences this).",
        stacklevel=2,
    )
