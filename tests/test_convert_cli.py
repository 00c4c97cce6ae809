"""The conversion command line and the package's import weight."""
import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from fixtures.timm_weights import load_layouts, timm_state_dict
from inception_jax.convert import from_timm
from inception_jax.convert.__main__ import main
from inception_jax.train.checkpoint import load_weights


@pytest.fixture(scope="module")
def v3_safetensors(tmp_path_factory):
    from safetensors.numpy import save_file

    path = tmp_path_factory.mktemp("timm") / "inception_v3.safetensors"
    save_file(timm_state_dict(load_layouts()["inception_v3"]), str(path))
    return path


def test_cli_writes_weights_that_load_weights_rebuilds(v3_safetensors, tmp_path):
    main(["--from", "timm", "--model", "inception_v3", "--input", str(v3_safetensors), "--output", str(tmp_path)])
    spec = json.loads((tmp_path / "model.json").read_text())
    assert spec["model_options"] == {"aux_head": True, "avg_pool_count_include_pad": True, "bn_momentum": 0.9,
                                     "bn_use_scale": True, "dropout_rate": 0.0}
    module, variables = load_weights(str(tmp_path))
    expected_module, expected = from_timm("inception_v3", v3_safetensors)
    assert module == expected_module
    assert jax.tree.all(jax.tree.map(np.array_equal, variables, expected))


def test_cli_reports_weights_of_another_network(v3_safetensors, tmp_path):
    with pytest.raises(SystemExit, match="look like timm's inception_v3"):
        main(["--from", "timm", "--model", "inception_v4", "--input", str(v3_safetensors), "--output", str(tmp_path)])


def test_keep_background_is_for_slim_only(v3_safetensors, tmp_path):
    with pytest.raises(SystemExit):
        main(["--from", "timm", "--model", "inception_v3", "--input", str(v3_safetensors), "--output", str(tmp_path),
              "--keep-background"])


def test_importing_the_converters_imports_no_tensorflow_keras_or_torch():
    code = "import sys, inception_jax.convert; print(sorted({'tensorflow', 'keras', 'torch'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
