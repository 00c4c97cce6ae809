"""Exported networks run outside Flax and give its logits, for any batch size, with their spec beside them."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from model_utils import random_variables
from train_utils import REPO

import inception_jax
from inception_jax import export
from inception_jax.spec import InputSpec, ModelSpec, read_spec
from inception_jax.weights import save_weights

# Relative to the largest logit. Measured 2026-12-06 (JAX 0.10.2, CPU): 0 for both networks: the serialized
# function is the same XLA program as the Flax apply.
TOLERANCE = 1e-5


def _weights(tmp_path, name, size, **options):
    module = inception_jax.create_model(name, **options)
    spec = ModelSpec.of_module(name, module, InputSpec(image_size=size, crop_fraction=0.875, mean=(0.5,) * 3))
    variables = random_variables(module, size)
    save_weights(str(tmp_path / "weights"), spec, variables)
    return module, variables, spec


def _assert_logits_match(logits_fn, module, variables, size, batches):
    for rows in batches:  # every batch size through the one file
        images = np.random.default_rng(rows).uniform(-1, 1, (rows, size, size, 3)).astype(np.float32)
        flax = np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, images))
        ours = np.asarray(logits_fn(images))
        assert ours.shape == flax.shape == (rows, module.num_classes)
        error = float(np.abs(ours - flax).max() / np.abs(flax).max())
        assert error <= TOLERANCE, f"batch {rows}: relative error {error:.1e}"


def test_a_reduced_network_exported_as_stablehlo_gives_flaxs_logits_for_batches_of_1_and_3(tmp_path):
    module, variables, spec = _weights(tmp_path, "inception_v3", 75, num_classes=10, width_multiplier=0.1, min_depth=4)
    assert export.export(tmp_path / "weights", tmp_path / "exported") == spec
    logits_fn, loaded_spec = export.load_stablehlo(tmp_path / "exported")
    assert loaded_spec == spec == read_spec(str(tmp_path / "exported"))  # the input contract, exactly
    _assert_logits_match(logits_fn, module, variables, 75, (1, 3))
    with pytest.raises(ValueError, match="format='onnx': choose one of stablehlo"):
        export.export(tmp_path / "weights", tmp_path / "other", format="onnx")
    with pytest.raises(FileNotFoundError, match="export the network there"):
        export.load_stablehlo(tmp_path / "weights")


def test_the_command_exports_inception_v3_at_299_that_gives_flaxs_logits(tmp_path):
    module, variables, spec = _weights(tmp_path, "inception_v3", 299)
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.export", f"--weights={tmp_path / 'weights'}"]
        + ["--format=stablehlo", f"--output={tmp_path / 'exported'}"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Wrote inception_v3 (stablehlo) to {tmp_path / 'exported'}" in done.stdout
    logits_fn, loaded_spec = export.load_stablehlo(tmp_path / "exported")
    assert loaded_spec == spec
    _assert_logits_match(logits_fn, module, variables, 299, (2,))
