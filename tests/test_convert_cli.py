"""The conversion command line and the package's import weight."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from absl import app
from fixtures.timm_weights import load_layouts, timm_state_dict
from safetensors.numpy import save_file

from inception_jax import cli
from inception_jax.artifacts import InputSpec, load_weights
from inception_jax.convert import __main__ as convert_cli
from inception_jax.convert import from_timm


def convert(arguments: list[str]) -> None:
    """`python -m inception_jax.convert ARGUMENTS`, in this process."""
    cli.run(convert_cli.main, ["convert", *arguments])


@pytest.fixture(scope="module")
def v3_safetensors(tmp_path_factory):

    path = tmp_path_factory.mktemp("timm") / "inception_v3.safetensors"
    save_file(timm_state_dict(load_layouts()["inception_v3"]), str(path))
    return path


def test_cli_writes_weights_that_load_weights_rebuilds(v3_safetensors, tmp_path):
    convert(["--from", "timm", "--model", "inception_v3", "--input", str(v3_safetensors), "--output", str(tmp_path)])
    record = json.loads((tmp_path / "spec.json").read_text())
    assert record["model_name"] == "inception_v3"
    assert {
        key: record["options"][key]
        for key in ("aux_head", "avg_pool_count_include_pad", "bn_momentum", "bn_use_scale", "dropout_rate")
    } == {
        "aux_head": True,
        "avg_pool_count_include_pad": True,
        "bn_momentum": 0.9,
        "bn_use_scale": True,
        "dropout_rate": 0.0,
    }
    # timm's default inception_v3 weight is tv_in1k: 299 px, crop 0.875, bicubic, [-1, 1].
    assert record["input"] == {
        "image_size": 299,
        "crop_fraction": 0.875,
        "crop_mode": "resize_shorter",
        "interpolation": "bicubic",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    }
    module, variables, spec = load_weights(str(tmp_path))
    expected_module, expected, expected_spec = from_timm("inception_v3", v3_safetensors)
    assert module == expected_module and spec == expected_spec
    assert jax.tree.all(jax.tree.map(np.array_equal, variables, expected))


def test_cli_records_each_sources_input_and_takes_overrides(v3_safetensors, tmp_path):
    convert(
        [
            "--from",
            "timm",
            "--model",
            "inception_v3.gluon_in1k",
            "--input",
            str(v3_safetensors),
            "--output",
            str(tmp_path / "gluon"),
        ]
    )
    assert load_weights(str(tmp_path / "gluon"))[2].input == InputSpec(
        299, 0.875, "resize_shorter", "bicubic", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    )
    convert(
        [
            "--from",
            "timm",
            "--model",
            "inception_v3",
            "--input",
            str(v3_safetensors),
            "--output",
            str(tmp_path / "custom"),
            "--crop_fraction",
            "1.0",
            "--interpolation",
            "bilinear",
            "--mean",
            "0.4,0.4,0.4",
        ]
    )
    assert load_weights(str(tmp_path / "custom"))[2].input == InputSpec(
        299, 1.0, "resize_shorter", "bilinear", (0.4, 0.4, 0.4), (0.5, 0.5, 0.5)
    )
    with pytest.raises(SystemExit, match="Unknown timm weight 'inception_v3.in22k'"):
        convert(
            [
                "--from",
                "timm",
                "--model",
                "inception_v3.in22k",
                "--input",
                str(v3_safetensors),
                "--output",
                str(tmp_path / "unknown"),
            ]
        )


def test_weights_converted_before_input_specs_load_with_the_inception_input(v3_safetensors, tmp_path):
    _, variables, spec = from_timm("inception_v3", v3_safetensors)
    convert(["--from", "timm", "--model", "inception_v3", "--input", str(v3_safetensors), "--output", str(tmp_path)])
    (tmp_path / "spec.json").unlink()
    (tmp_path / "model.json").write_text(
        json.dumps(
            {
                "model_name": "inception_v3",
                "model_options": {
                    "aux_head": True,
                    "avg_pool_count_include_pad": True,
                    "bn_momentum": 0.9,
                    "bn_use_scale": True,
                    "dropout_rate": 0.0,
                },
            }
        )
    )
    module, _, legacy = load_weights(str(tmp_path))
    assert module == spec.build() and legacy.input == InputSpec()


def test_cli_reports_weights_of_another_network(v3_safetensors, tmp_path):
    with pytest.raises(SystemExit, match="look like timm's inception_v3"):
        convert(
            ["--from", "timm", "--model", "inception_v4", "--input", str(v3_safetensors), "--output", str(tmp_path)]
        )


def test_keep_background_is_for_slim_only(v3_safetensors, tmp_path):
    with pytest.raises(app.UsageError, match="--from=slim only"):
        convert(
            [
                "--from",
                "timm",
                "--model",
                "inception_v3",
                "--input",
                str(v3_safetensors),
                "--output",
                str(tmp_path),
                "--keep_background",
            ]
        )


def test_help_shows_working_examples():
    done = subprocess.run([sys.executable, "-m", "inception_jax.convert", "--help"], capture_output=True, text=True)
    assert "python -m inception_jax.convert --from=timm --model=" in done.stdout  # absl exits 1 after --help


def test_importing_the_converters_imports_no_tensorflow_keras_or_torch():
    code = "import sys, inception_jax.convert; print(sorted({'tensorflow', 'keras', 'torch'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
