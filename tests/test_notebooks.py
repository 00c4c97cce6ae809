"""The notebooks run top to bottom in smoke mode (tiny networks, a few steps, temporary directories), and are
saved ready to commit: outputs cleared, a parameters cell first.

All notebooks run in one test, in `ORDER`, so that inspect_run reuses the tiny network that ablations compiled
(both kernels share the persistent compilation cache conftest.py sets up).
"""

import base64
import json
import os
import sys
import time

import nbformat
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from nbclient import NotebookClient
from train_utils import REPO

NOTEBOOKS = os.path.join(REPO, "notebooks")
ORDER = ("architecture.ipynb", "ablations.ipynb", "inspect_run.ipynb", "deconvnet.ipynb")
SMOKE = "INCEPTION_JAX_NOTEBOOK_SMOKE"
CELL_TIMEOUT_S = 600


def _read(name):
    return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


def _outputs(notebook):
    """All text the notebook printed or displayed, and its PNG images (decoded)."""
    texts, images = [], []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
            if "image/png" in data:
                images.append(base64.b64decode(data["image/png"]))
    return "\n".join(texts), images


def test_every_notebook_is_tested_and_saved_without_outputs():
    assert sorted(ORDER) == sorted(name for name in os.listdir(NOTEBOOKS) if name.endswith(".ipynb"))
    for name in ORDER:
        notebook = _read(name)
        nbformat.validate(notebook)
        first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert "parameters" in first_code.metadata.get("tags", []) and SMOKE in first_code.source, name
        assert notebook.cells[0].cell_type == "markdown" and "Runtime" in notebook.cells[0].source, name
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before saving"


def _check_architecture(text, images):
    assert "23,817,352" in text and "22,742,808" in text  # Inception-v3 and Inception-ResNet-v1 parameters
    assert "`inception_resnet_v1` ≈ `inception_v3`" in text
    assert len(images) == 2 + 9  # cost scatter, shapes plot, nine block diagrams


def _check_ablations(text, images):
    assert "step 4/4" in text and "| seed 0 |" in text and "| seed 1 |" in text
    assert len(images) == 1  # the live figure, redrawn in place


def _check_inspect_run(text, images):
    assert "inception_resnet_v2 at step 6" in text and "on 360 digits" in text
    assert len(images) == 4  # curves, first digits, misclassified digits, confusion matrix


def _check_deconvnet(text, images):
    assert "zfnet at step 6: 360 test digits" in text
    assert "conv2: feature maps" in text and "conv5: feature maps" in text
    assert len(images) == 3  # conv1 filters, then one Figure-2 grid per layer


CHECKS = {
    "architecture.ipynb": _check_architecture,
    "ablations.ipynb": _check_ablations,
    "inspect_run.ipynb": _check_inspect_run,
    "deconvnet.ipynb": _check_deconvnet,
}


def test_every_notebook_runs_top_to_bottom_in_smoke_mode(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv(SMOKE, "1")
    monkeypatch.setenv("TFDS_DATA_DIR", data_dir)  # the digits this run prepared (smoke mode reads them there)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' temporary workdirs
    # This interpreter's kernel spec first, so the kernel runs this environment's Python.
    monkeypatch.setenv("JUPYTER_PATH", os.path.join(sys.prefix, "share", "jupyter"))
    seconds = {}
    for name in ORDER:
        notebook = _read(name)
        start = time.perf_counter()
        NotebookClient(
            notebook,
            kernel_name=NATIVE_KERNEL_NAME,
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": NOTEBOOKS}},
        ).execute()
        seconds[name] = round(time.perf_counter() - start, 1)
        for image in _outputs(notebook)[1]:
            assert image[:8] == b"\x89PNG\r\n\x1a\n"
        CHECKS[name](*_outputs(notebook))
    print("notebook execution seconds:", json.dumps(seconds))
