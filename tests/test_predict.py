"""`inception_jax.predict`: each photo prepared as the weights' spec says gives timm's top classes; outputs are
named by ImageNet-1k's classes, through slim's 1001-way offset and the 2015 graph's 1008-way label map."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from fixtures.local_servers import hub_files
from fixtures.photos import photo_paths
from fixtures.timm_weights import load_layouts as timm_layouts
from fixtures.timm_weights import timm_state_dict
from model_utils import random_variables
from safetensors.numpy import save
from train_utils import REPO

from inception_jax import create_model, imagenet, predict
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.weights import save_weights

GOLDEN = "tests/fixtures/photo_logits.npz"  # timm's logits on the photos, through timm's own transforms
WEIGHT = "inception_resnet_v2.tf_in1k"


def test_the_top_5_of_each_photo_are_timms(serve, tmp_path, monkeypatch):
    """The weight by name, from a local stand-in for the hub serving seeded weights in timm's layout."""
    golden = np.load(f"{REPO}/{GOLDEN}")[WEIGHT]  # seeded weights, tests/fixtures/make_photo_fixtures.py
    # Its smallest gap between neighbours in a top 6 is 2.2e-3, twenty times our measured logit error (1.1e-4).
    weights = save(timm_state_dict(timm_layouts()[WEIGHT.split(".")[0]]))
    server = serve(hub_files(f"timm/{WEIGHT}", weights, {"architecture": WEIGHT, "num_classes": 1000}))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    paths = [str(path) for path in photo_paths().values()]
    # Batches of 4: a full batch and a padded one.
    predictions = predict.predict(WEIGHT, paths, batch_size=4, cache_dir=tmp_path / "cache")
    assert [p["path"] for p in predictions] == paths
    synsets, names = imagenet.synsets_and_names()
    for prediction, logits in zip(predictions, golden, strict=True):
        expected = [int(output) for output in np.argsort(-logits)[:5]]
        assert [entry["output"] for entry in prediction["top_k"]] == expected
        assert [entry["imagenet_index"] for entry in prediction["top_k"]] == expected
        assert [entry["name"] for entry in prediction["top_k"]] == [names[output] for output in expected]
        assert [entry["synset"] for entry in prediction["top_k"]] == [synsets[output] for output in expected]
        probabilities = [entry["probability"] for entry in prediction["top_k"]]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1


def test_class_names_follow_imagenet_slims_offset_and_the_2015_graphs_label_map():
    synsets, names = imagenet.synsets_and_names()
    assert len(synsets) == len(set(synsets)) == 1000 and list(synsets) == sorted(synsets)
    assert (synsets[0], names[0]) == ("n01440764", "tench, Tinca tinca")
    assert imagenet.class_names(1000) == names
    # slim: output 0 is "background", output k + 1 is class k.
    assert imagenet.class_names(1001) == ("background", *names)
    assert [imagenet.imagenet_index(output, 1001) for output in (0, 1, 208, 1000)] == [None, 0, 207, 999]
    # The 2015 graph: outputs 1..1000 are every class once, in its label map's order; 0 and 1001..1007 are none.
    indices = [imagenet.imagenet_index(output, 1008) for output in range(1008)]
    assert sorted(index for index in indices if index is not None) == list(range(1000))
    assert [output for output, index in enumerate(indices) if index is None] == [0, *range(1001, 1008)]
    # Entries of the label map as TensorFlow shipped it: its first entry (449: n01440764, the tench), and the
    # giant panda that TensorFlow's classify_image example finds at output 169.
    assert (indices[449], indices[169]) == (0, synsets.index("n02510455"))
    assert imagenet.class_names(1008)[169].startswith("giant panda")
    assert imagenet.class_names(1008)[0] == imagenet.class_names(1008)[1007] == "unused"
    with pytest.raises(ValueError, match="1000-way ones"):
        imagenet.class_names(10)


def saved_classifier(directory, model_name, num_classes, winner, **options):
    """A reduced network whose output `winner` wins on any image, saved with its spec."""
    module = create_model(model_name, num_classes=num_classes, width_multiplier=0.1, min_depth=4, **options)
    variables = random_variables(module, 75)
    variables["params"]["Logits"]["bias"][winner] = 100.0
    save_weights(str(directory), ModelSpec.of_module(model_name, module, InputSpec(image_size=75)), variables)
    return str(directory)


@pytest.mark.parametrize(
    "model_name, num_classes, winner, expected_index",
    [("inception_v3", 1001, 208, 207), ("inception_v3_fid", 1008, 169, "n02510455"), ("inception_v3", 10, 3, None)],
)
def test_each_classifier_width_names_its_winning_output(tmp_path, model_name, num_classes, winner, expected_index):
    weights = saved_classifier(tmp_path / "weights", model_name, num_classes, winner)
    photo = str(next(iter(photo_paths().values())))
    (prediction,) = predict.predict(weights, [photo], top_k=2)
    first, second = prediction["top_k"]
    if isinstance(expected_index, str):
        expected_index = imagenet.synsets_and_names()[0].index(expected_index)
    assert (first["output"], first["imagenet_index"]) == (winner, expected_index)
    assert first["probability"] == pytest.approx(1.0) and second["probability"] < 1e-30
    if expected_index is None:
        assert (first["name"], first["synset"]) == (f"class {winner}", None)
    else:
        assert first["name"] == imagenet.synsets_and_names()[1][expected_index]


def test_folders_are_read_in_name_order_and_missing_paths_say_so(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, path in photo_paths().items():
        os.symlink(path, folder / f"{name}{path.suffix}")
    (folder / "notes.txt").write_text("not an image")
    listed = predict.image_paths([folder])
    assert [os.path.basename(path) for path in listed] == sorted(os.listdir(folder))[: len(listed)]
    assert len(listed) == len(photo_paths()) and not any(path.endswith(".txt") for path in listed)
    with pytest.raises(FileNotFoundError, match="no such image or folder"):
        predict.image_paths([tmp_path / "missing.jpg"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No images"):
        predict.image_paths([tmp_path / "empty"])


def test_the_command_prints_each_images_top_classes_and_writes_the_same_json(tmp_path):
    """Run as `python -m`, in its own process: the tools' flags share absl's one registry per process."""
    weights = saved_classifier(tmp_path / "weights", "inception_v3", 1001, 208)
    photos = [str(path) for path in photo_paths().values()][:3]
    command = [sys.executable, "-m", "inception_jax.predict", f"--weights={weights}", "--top_k=2", *photos]
    result = subprocess.run(
        [*command, f"--json={tmp_path / 'top.json'}"], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "top.json").read_text())
    assert written == {"weights": weights, "predictions": predict.predict(weights, photos, top_k=2)}
    name = imagenet.synsets_and_names()[1][207]
    for photo in photos:
        block = result.stdout.split(photo + "\n", 1)[1].splitlines()[:2]
        assert block[0] == f"  1. 1.0000  {name}  (output 208)"
        assert block[1].startswith("  2. 0.0000  ")
    missing = subprocess.run(command[:3] + photos, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert missing.returncode != 0 and "--weights must be given" in missing.stderr
