"""`python -m inception_jax.predict`: each photo prepared as the weights' spec says gives timm's top classes, and
class names follow ImageNet-1k's order, with slim's 1001-way offset."""

import json

import numpy as np
import pytest
from fixtures.photos import photo_paths
from fixtures.timm_weights import load_layouts as timm_layouts
from fixtures.timm_weights import timm_state_dict
from model_utils import random_variables
from train_utils import REPO

from inception_jax import cli, create_model, imagenet, predict
from inception_jax.convert import from_timm
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.weights import save_weights

GOLDEN = "tests/fixtures/photo_logits.npz"  # timm's logits on the photos, through timm's own transforms
WEIGHT = "inception_resnet_v2.tf_in1k"


def test_the_top_5_of_each_photo_are_timms(tmp_path):
    golden = np.load(f"{REPO}/{GOLDEN}")[WEIGHT]  # seeded weights, tests/fixtures/make_photo_fixtures.py
    # Its smallest gap between neighbours in a top 6 is 2.2e-3, twenty times our measured logit error (1.1e-4).
    save_weights(
        str(tmp_path / "weights"),
        *reversed(from_timm(WEIGHT, timm_state_dict(timm_layouts()[WEIGHT.split(".")[0]]))[1:]),
    )
    paths = [str(path) for path in photo_paths().values()]
    cli.run(predict.main, ["predict", f"--weights={tmp_path / 'weights'}", *paths, f"--json={tmp_path / 'top5.json'}"])
    predictions = json.loads((tmp_path / "top5.json").read_text())["predictions"]
    assert [p["path"] for p in predictions] == paths
    names = imagenet.class_names(1000)
    for prediction, logits in zip(predictions, golden, strict=True):
        expected = list(np.argsort(-logits)[:5])
        assert [entry["output"] for entry in prediction["top_k"]] == expected
        assert [entry["name"] for entry in prediction["top_k"]] == [names[output] for output in expected]
        probabilities = [entry["probability"] for entry in prediction["top_k"]]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1


def test_class_names_follow_imagenet_and_slims_1001_way_outputs_shift_by_one(tmp_path, capsys):
    synsets, names = imagenet.synsets_and_names()
    assert len(synsets) == len(set(synsets)) == 1000 and list(synsets) == sorted(synsets)
    assert (synsets[0], names[0]) == ("n01440764", "tench, Tinca tinca")
    assert imagenet.class_names(1001)[:2] == ("background", "tench, Tinca tinca")
    assert (imagenet.imagenet_index(0, 1001), imagenet.imagenet_index(208, 1001), imagenet.imagenet_index(5, 1000)) == (
        None,
        207,
        5,
    )
    with pytest.raises(ValueError, match="1008 outputs follow its own label map"):
        imagenet.class_names(1008)
    # A slim-style 1001-way classifier whose output 208 wins: ImageNet's class 207.
    module = create_model("inception_v3", num_classes=1001, width_multiplier=0.1, min_depth=4)
    variables = random_variables(module, 75)
    variables["params"]["Logits"]["bias"][208] = 100.0
    save_weights(
        str(tmp_path / "slim"), ModelSpec.of_module("inception_v3", module, InputSpec(image_size=75)), variables
    )
    photo = str(next(iter(photo_paths().values())))
    cli.run(predict.main, ["predict", f"--weights={tmp_path / 'slim'}", "--top_k=1", photo])
    assert f"1.0000  {names[207]}  (output 208)" in capsys.readouterr().out
    (entry,) = predict.predict(str(tmp_path / "slim"), [photo], top_k=1)[0]["top_k"]
    assert (entry["imagenet_index"], entry["synset"]) == (207, synsets[207])
