"""The one command-line dialect: packaged configs by name, --model.OPTION=VALUE, tuned XLA flags, --help."""

import json
import os
import subprocess
import sys

import pytest
from process_utils import python_output_lines
from train_utils import REPO

from inception_jax import cli, configs

TOOLS = ("main", "evaluate", "summary", "convert", "plot", "benchmark", "fid")


def test_packaged_configs_resolve_to_files_with_their_argument():
    resolved = cli._resolve_packaged_configs(
        [
            "prog",
            "--config=inception_jax:lineage:model=resnet50",
            "--config.seed=3",
            "--config",
            "inception_jax:inception_v4",
        ]
    )
    path, _, arg = resolved[1][len("--config=") :].partition(".py:")
    assert os.path.exists(path + ".py") and arg == "model=resnet50"
    assert resolved[2] == "--config.seed=3" and resolved[4] == configs.config_path("inception_v4")
    with pytest.raises(ValueError, match="Did you mean 'inception_v4'"):
        configs.resolve("inception_jax:inception_v5")


def test_model_options_are_python_literals():
    rest = cli._split_model_options(
        [
            "prog",
            "--model=x",
            "--model.width_multiplier=0.5",
            "--model.aux_head=true",
            "--model.block_counts=(1,2,3)",
            "--model.remat=block",
        ]
    )
    assert rest == ["prog", "--model=x"]
    assert cli.model_options() == {
        "width_multiplier": 0.5,
        "aux_head": True,
        "block_counts": (1, 2, 3),
        "remat": "block",
    }


def xla_flags_seen(*args: str, **env: str) -> str:
    code = (
        "from inception_jax import cli; import os; "
        "cli.run(lambda argv: print('XLA_FLAGS=' + os.environ.get('XLA_FLAGS', '')))"
    )
    environment = {key: value for key, value in os.environ.items() if key not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environment, **env},
        check=True,
    )
    return done.stdout.strip().removeprefix("XLA_FLAGS=")


def test_tuned_xla_flags_are_added_on_cpu_unless_stock_or_already_set():
    assert xla_flags_seen() == cli.TUNED_XLA_FLAGS[0]
    assert xla_flags_seen("--stock_xla") == ""
    name = cli.TUNED_XLA_FLAGS[0].split("=")[0]
    assert xla_flags_seen(XLA_FLAGS=f"--xla_foo=1 {name}=none") == f"--xla_foo=1 {name}=none"
    assert xla_flags_seen(JAX_PLATFORMS="cuda") == ""  # an accelerator's backend: left alone


@pytest.mark.parametrize("tool", TOOLS)
def test_help_shows_a_working_example(tool):
    module = {"main": "inception_jax.main", "convert": "inception_jax.convert"}.get(tool, f"inception_jax.{tool}")
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=REPO)
    assert f"python -m {module} --" in done.stdout or f"python -m {module} runs/" in done.stdout, done.stdout[:2000]


CONFIG_MODEL_OPTIONS = """
import dataclasses, json
import jax.numpy as jnp
import inception_jax.main  # defines --config and --workdir, as `python -m inception_jax.main` does
from absl import flags
from inception_jax import cli, configs, create_model, list_models
from inception_jax.configs import lineage
from inception_jax.models import get_model_class

def literal(value):
    return str(value).lower() if isinstance(value, bool) else str(value)

config_args = [f"inception_jax:{name}" for name in configs.CONFIGS]
for model in list_models():
    try:
        lineage.recipe_for(model)
    except ValueError:
        continue
    config_args.append(f"inception_jax:lineage:model={model}")
checked, wrong = 0, []
for config_arg in config_args:
    network = configs.get_config(*config_arg.split(":")[1:]).model_name
    for field in dataclasses.fields(get_model_class(network)):
        if not field.init or field.name in ("parent", "name"):
            continue
        # Each option set to a value other than the network's default where one is at hand, so it must arrive.
        value = {bool: lambda v: not v, float: lambda v: v / 2, int: lambda v: v + 1}.get(
            type(field.default), lambda v: v)(field.default)
        if field.name in ("num_classes", "min_depth") or value is None:
            value = field.default
        if field.name.endswith("dtype"):  # given by name on a command line
            value = "bfloat16"
        cli.parse(["main", f"--config={config_arg}", f"--config.model.{field.name}={literal(value)}"])
        config = flags.FLAGS.config
        module = create_model(config.model_name, **config.model)
        same = jnp.dtype if field.name.endswith("dtype") else lambda v: v
        if same(getattr(module, field.name)) != same(value):
            wrong.append([config_arg, field.name, repr(value), repr(getattr(module, field.name))])
        checked += 1
errors = []
unknown_options = (
    ["--config.model.width_multipler=0.5"],
    ["--config=inception_jax:lineage", "--config.model.residual_scales=(1,1,1)"],
)
for argv in unknown_options:
    try:
        cli.parse(["main", *argv])
        errors.append(None)
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
print(json.dumps({"checked": checked, "configs": len(config_args), "wrong": wrong, "errors": errors}))
"""


def test_every_option_of_every_shipped_configs_network_is_settable_and_unknown_ones_list_the_valid():
    """`--config.model.OPTION=VALUE` for each `create_model` option, though the config file lists only some."""
    (line,) = python_output_lines(CONFIG_MODEL_OPTIONS)[-1:]
    result = json.loads(line)
    assert result["wrong"] == [] and result["configs"] >= len(configs.CONFIGS) + 5 and result["checked"] >= 150, result
    unknown, unknown_for_this_network = result["errors"]
    assert unknown.startswith("UsageError: inception_resnet_v2 has no option(s) width_multipler.")
    assert "Did you mean width_multiplier? Valid options: " in unknown and ", aux_head, " in unknown
    # residual_scales is an option of the Inception-ResNets, not of the lineage's default ResNet-50.
    assert unknown_for_this_network.startswith("UsageError: resnet50 has no option(s) residual_scales.")


def imported_xla_flags(code: str = "", **env: str) -> subprocess.CompletedProcess:
    """XLA_FLAGS after a program runs `code` and then `import inception_jax`, with no flag of its own."""
    program = f"{code}\nimport os, inception_jax\nprint('XLA_FLAGS=' + os.environ.get('XLA_FLAGS', ''))"
    environment = {key: value for key, value in os.environ.items() if key not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", program],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environment, **env},
        check=True,
    )


def test_a_program_importing_the_networks_gets_the_tuned_xla_flags_unless_it_opts_out():
    tuned = cli.TUNED_XLA_FLAGS[0]
    assert imported_xla_flags().stdout.strip() == f"XLA_FLAGS={tuned}"
    assert imported_xla_flags(XLA_FLAGS="--xla_foo=1").stdout.strip() == f"XLA_FLAGS=--xla_foo=1 {tuned}"
    name = tuned.split("=")[0]
    assert imported_xla_flags(XLA_FLAGS=f"{name}=none").stdout.strip() == f"XLA_FLAGS={name}=none"  # the user's
    assert imported_xla_flags(INCEPTION_JAX_STOCK_XLA="1").stdout.strip() == "XLA_FLAGS="
    assert imported_xla_flags(JAX_PLATFORMS="cuda").stdout.strip() == "XLA_FLAGS="  # an accelerator: left alone


def test_importing_the_networks_after_jax_started_warns_once_naming_the_flag():
    done = imported_xla_flags("import jax; jax.devices()")
    assert done.stdout.strip() == "XLA_FLAGS="  # too late to change: the backend has read them
    assert done.stderr.count("UserWarning") == 1
    assert f"lacks {cli.TUNED_XLA_FLAGS[0]}" in done.stderr and "INCEPTION_JAX_STOCK_XLA=1" in done.stderr
    assert "UserWarning" not in imported_xla_flags("import jax; jax.devices()", INCEPTION_JAX_STOCK_XLA="1").stderr
