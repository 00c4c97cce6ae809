"""The one command-line dialect: packaged configs by name, --model.OPTION=VALUE, tuned XLA flags, --help."""

import os
import subprocess
import sys

import pytest
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
