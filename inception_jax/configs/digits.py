"""The paper's recipe at reduced scale: scikit-learn's handwritten digits, embedded and offline, on a CPU.

Not a config itself: the helpers the digits configs (default.py, zfnet_digits.py, the experiments' reduced
runs) build on.
"""

import ml_collections

from inception_jax.configs import paper

# Overrides of the default config that swap its network for one a fresh process compiles in seconds: ResNet-20
# cut to one block per stage, at 32 px. For runs that test processes (kills, resumes, several processes) rather
# than networks: the tests' QUICK runs and `inception_jax.faults`.
QUICK_NETWORK = {
    "model_name": "resnet20",
    "model.block_counts": (1, 1, 1),
    "model.width_multiplier": 1.0,
    "model.aux_head": False,
    "input.image_size": 32,
}


def digits_input(image_size: int, **overrides) -> ml_collections.ConfigDict:
    """Input fields for the digits (1,437 train / 360 test 8×8 images) shown at `image_size`."""
    return paper.input_config(
        **{
            "dataset": "sklearn_digits",
            "eval_split": "test",
            "image_size": image_size,
            "batch_size": 64,
            "eval_batch_size": 120,
            "crop_area_range": (0.5, 1.0),  # 8×8 digits lose their strokes below half the area
            "flip": False,  # mirrored digits are other symbols
            "color_distortion": False,  # the digits are grey
            **overrides,
        }
    )


def digits_recipe(model_name: str, **model_options) -> ml_collections.ConfigDict:
    """`paper` on the digits at 75 px with networks narrowed ×0.25, in minutes; `model_options` override."""
    config = paper.get_config()
    config.model_name = model_name
    config.model.update(
        {
            "width_multiplier": 0.25,
            "min_depth": 8,
            "bn_momentum": 0.9,  # slim's 0.9997 suits 100 ImageNet epochs, not a few hundred steps
            **model_options,
        }
    )
    config.input = digits_input(image_size=75)
    config.total_epochs = 12.0
    config.log_every_steps = config.eval_every_steps = 22  # one epoch at batch 64
    config.checkpoint_every_steps = 88
    config.ema.decay = 0.99
    config.schedule.reference_batch_size = 64
    return config
