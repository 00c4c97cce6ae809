"""The one command-line dialect of every tool (main, evaluate, summary, convert, plot, benchmark): absl flags.

    cli.define_model_flags()          # --model=NAME and --model.OPTION=VALUE (create_model options)
    cli.run(main)                     # app.run, plus what every tool does before its main runs

Before `main`, `run` resolves `--config=inception_jax:NAME[:ARG]` to the packaged config file, collects the
`--model.OPTION=VALUE` options (`model_options()`), and applies the tuned XLA:CPU flags unless `--stock_xla`.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
from collections.abc import Callable

from absl import app, flags

from inception_jax import configs
from inception_jax.models import check_model_options
from inception_jax.spec import CROP_MODES, INTERPOLATIONS
from inception_jax.xla_cpu import (  # noqa: F401  (the tools' names for them)
    TUNED_XLA_FLAGS,
    accelerator_present,
    stock_xla_flags,
    use_stock_xla_flags,
    use_tuned_xla_flags,
)

MODEL_PREFIX = "--model."
CONFIG_MODEL_PREFIX = "--config.model."

flags.DEFINE_bool(
    "stock_xla",
    False,
    f"Leave XLA_FLAGS as they are; by default, on machines without an "
    f"accelerator, {' '.join(TUNED_XLA_FLAGS)} is added (faster convolutions on XLA:CPU).",
)

_model_options: dict[str, object] = {}


def define_model_flags(default: str | None = "inception_v3") -> None:
    """`--model=NAME`; its options come as `--model.OPTION=VALUE`, read by `model_options()`."""
    flags.DEFINE_string(
        "model",
        default,
        "A network of inception_jax.list_models(); give its create_model options "
        "as --model.OPTION=VALUE (e.g. --model.width_multiplier=0.5 --model.bn_use_scale=true).",
    )


def define_input_spec_flags() -> None:
    """Flags that override the network's input spec (`spec.InputSpec`); unset ones leave it alone."""
    flags.DEFINE_integer("image_size", None, "Network input side (default: the spec's).")
    flags.DEFINE_float("crop_fraction", None, "Share of the image the evaluation crop keeps (default: the spec's).")
    flags.DEFINE_enum("crop_mode", None, list(CROP_MODES), "Evaluation crop (default: the spec's).")
    flags.DEFINE_enum("interpolation", None, list(INTERPOLATIONS), "Resize kernel (default: the spec's).")
    flags.DEFINE_list("mean", None, "Per-channel mean of [0, 1] pixels, e.g. 0.485,0.456,0.406 (default: spec's).")
    flags.DEFINE_list("std", None, "Per-channel std of [0, 1] pixels, e.g. 0.229,0.224,0.225 (default: spec's).")


def input_spec_overrides() -> dict[str, object]:
    """The InputSpec fields that `define_input_spec_flags`' flags set on this command line."""
    values = {
        field: getattr(flags.FLAGS, field)
        for field in ("image_size", "crop_fraction", "crop_mode", "interpolation", "mean", "std")
    }
    for field in ("mean", "std"):
        values[field] = values[field] and tuple(float(value) for value in values[field])
    return {field: value for field, value in values.items() if value is not None}


def model_options() -> dict[str, object]:
    """The `--model.OPTION=VALUE` options of this command line, values as Python literals (true/false too)."""
    return dict(_model_options)


def parse_value(text: str):
    """A command-line value: true/false, a Python literal (numbers, tuples, lists), else the string itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _split_model_options(argv: list[str]) -> list[str]:
    """Takes the `--model.OPTION=VALUE` arguments out of `argv` into `_model_options`; returns the rest."""
    rest = []
    for arg in argv:
        if arg.startswith(MODEL_PREFIX):
            name, separator, value = arg[len(MODEL_PREFIX) :].partition("=")
            if not separator or not name:
                raise app.UsageError(f"{arg}: write --model.OPTION=VALUE, e.g. --model.width_multiplier=0.5")
            _model_options[name] = parse_value(value)
        else:
            rest.append(arg)
    return rest


def _split_config_model_options(argv: list[str]) -> tuple[list[str], dict[str, object]]:
    """Takes `--config.model.OPTION=VALUE` out of `argv`: a config file lists only some of its network's options,
    and ml_collections accepts overrides of listed fields only. Returns the rest and the options."""
    rest, options = [], {}
    for arg in argv:
        if arg.startswith(CONFIG_MODEL_PREFIX):
            name, separator, value = arg[len(CONFIG_MODEL_PREFIX) :].partition("=")
            if not separator or not name or "." in name:
                raise app.UsageError(f"{arg}: write --config.model.OPTION=VALUE, e.g. --config.model.remat=block")
            options[name] = parse_value(value)
        else:
            rest.append(arg)
    return rest, options


def set_config_model_options(config, options: dict[str, object]) -> None:
    """Sets `create_model` options on `config.model`, checked against the network `config.model_name` (after
    every other override, so `--config.model_name` may change it); the error lists the valid options."""
    check_model_options(config.model_name, options)
    with config.unlocked():
        for name, value in options.items():
            config.model[name] = value


def _resolve_packaged_configs(argv: list[str]) -> list[str]:
    """`--config=inception_jax:NAME[:ARG]` (or `--config inception_jax:...`) → the packaged file's path."""
    resolved = list(argv)
    for index, arg in enumerate(resolved):
        if arg.startswith("--config=") and not arg.startswith("--config."):
            resolved[index] = "--config=" + configs.resolve(arg[len("--config=") :])
        elif arg == "--config" and index + 1 < len(resolved):
            resolved[index + 1] = configs.resolve(resolved[index + 1])
    return resolved


def _parse(argv: list[str]) -> list[str]:
    _model_options.clear()
    try:
        argv, config_model_options = _split_config_model_options(_resolve_packaged_configs(_split_model_options(argv)))
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    # ml_collections reads `--config.FIELD` overrides from sys.argv too: it must not see the options taken out.
    saved_argv, sys.argv = sys.argv, argv
    try:
        rest = flags.FLAGS(argv)
    finally:
        sys.argv = saved_argv
    if config_model_options:
        if "config" not in flags.FLAGS:
            raise app.UsageError(f"{CONFIG_MODEL_PREFIX}OPTION is for tools that take --config.")
        try:
            set_config_model_options(flags.FLAGS.config, config_model_options)
        except (ValueError, TypeError) as error:
            raise app.UsageError(str(error)) from None
    if flags.FLAGS.stock_xla:
        use_stock_xla_flags()  # undoes what `import inception_jax` added
    elif not accelerator_present():
        use_tuned_xla_flags()
    return rest


def parse(argv: list[str]) -> list[str]:
    """Parses a tool's command line (program name first) as `run` does, without calling its main; returns the
    positional arguments. A wrong flag, value or `--config.FIELD` raises (absl's errors, `app.UsageError`).

    Repeatable in one process, one command line after another (tests/test_docs.py checks the documented commands
    so): ml_collections reads `--config.FIELD` overrides from `sys.argv` and defines them as flags when it loads
    a config, so `sys.argv` is `argv` meanwhile, the last command line's overrides are removed, and a default
    config (loaded at import when the tool was imported without `--config`) is loaded again.
    """
    argv = list(argv)
    saved_argv, sys.argv = sys.argv, [arg for arg in argv if not arg.startswith(CONFIG_MODEL_PREFIX)]
    try:
        flags.FLAGS.unparse_flags()
        for name in [name for name in flags.FLAGS if name.startswith("config.")]:
            delattr(flags.FLAGS, name)
        default_config = getattr(flags.FLAGS["config"], "default_unparsed", None) if "config" in flags.FLAGS else None
        if default_config is not None:
            flags.FLAGS.set_default("config", default_config)
        return _parse(argv)
    finally:
        sys.argv = saved_argv


def require(*names: str) -> None:
    """Raises a ValueError naming each flag of `names` left unset.

    Tools call it in `main`, rather than marking flags required where they are defined: every tool's flags
    live in absl's one registry, and a tool imported beside another (as tests do) must not impose its own.
    """
    missing = [f"--{name}" for name in names if flags.FLAGS[name].value is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} must be given; --help shows an example.")


class _QuietOrbax(logging.Filter):
    """Drops Orbax's info lines (each save's and restore's internals); clu's progress lines pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname


def run(main: Callable[[list[str]], None], argv: list[str] | None = None) -> None:
    """`absl.app.run(main)` with this dialect's parsing; `--help` prints the tool's docstring (its examples).

    With `argv` (program name first) the command line is parsed and `main` called in this process, as tests do;
    errors then raise instead of exiting.
    """
    spec = getattr(sys.modules["__main__"], "__spec__", None)  # `python -m inception_jax.TOOL`
    tool = spec.name.removesuffix(".__main__") if argv is None and spec else (argv or sys.argv)[0]

    def main_telling_what_to_do(rest: list[str]) -> None:
        logging.getLogger().setLevel(logging.INFO)
        absl_logger = logging.getLogger("absl")
        if not any(isinstance(f, _QuietOrbax) for f in absl_logger.filters):
            absl_logger.addFilter(_QuietOrbax())
        try:
            main(rest)
        except (ValueError, FileNotFoundError) as error:  # the errors of a wrong name, value or path
            raise SystemExit(f"{tool}: {error}") from None

    def parse_telling_what_to_do(argv: list[str]) -> list[str]:
        try:
            return _parse(argv)
        except app.UsageError as error:  # absl prints a traceback for errors of a flags_parser
            raise SystemExit(f"{tool}: {error}") from None

    if argv is None:
        app.run(main_telling_what_to_do, flags_parser=parse_telling_what_to_do, argv=sys.argv)
    else:
        flags.FLAGS.unparse_flags()
        main_telling_what_to_do(_parse(list(argv)))
