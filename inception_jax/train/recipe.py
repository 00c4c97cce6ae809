"""The paper's training recipe as a config: the base every file in experiments/configs/ starts from.

RMSProp (decay 0.9, momentum 0.9, ε 1.0), learning rate 0.045 decayed ×0.94 every 2 epochs, weight decay 4e-5,
label smoothing 0.1, auxiliary loss weight 0.4, parameter EMA 0.9999, on ImageNet via TFDS `imagenet2012`.
The paper trained 50 asynchronous replicas of batch 32 at 0.045; for synchronous large batches the rate is
scaled linearly from `reference_batch_size` (256 here, so batch 1024 trains at 0.18).
"""
from __future__ import annotations

import ml_collections


def optimizer_config() -> ml_collections.ConfigDict:
    """RMSProp (TF1 semantics), regularisation, losses and EMA of the paper's recipe.

    `name="sgd"` (with `momentum`, `nesterov`) is the optimizer of the networks before Inception-v3 (lineage.py).
    """
    return ml_collections.ConfigDict({
        "name": "rmsprop", "nesterov": False, "rms_decay": 0.9, "momentum": 0.9, "epsilon": 1.0, "weight_decay": 4e-5, "grad_clip_norm": 0.0,
        "label_smoothing": 0.1, "aux_loss_weight": 0.4, "ema_decay": 0.9999})


def schedule_config() -> ml_collections.ConfigDict:
    """0.045 · batch/reference, ×0.94 every 2 epochs (staircase), optional linear warmup.

    Non-empty `boundaries_epochs` multiplies by `decay_rate` at each listed epoch instead (ResNet's ÷10 steps).
    """
    return ml_collections.ConfigDict({
        "base_learning_rate": 0.045, "reference_batch_size": 256, "decay_rate": 0.94, "epochs_per_decay": 2.0,
        "boundaries_epochs": (), "warmup_epochs": 0.0})


def paper_recipe(model_name: str) -> ml_collections.ConfigDict:
    """Every field a config has; fields are contracts that tools depend on, so keep their names."""
    config = ml_collections.ConfigDict()
    config.model_name = model_name
    from inception_jax.models import get_model_class  # noqa: PLC0415

    config.model = ml_collections.ConfigDict({"aux_head": get_model_class(model_name).has_aux_head,
                                              "dropout_rate": 0.2})
    config.seed = 0
    config.total_steps = 0  # 0: derive from total_epochs.
    config.total_epochs = 100.0
    config.log_every_steps = 100
    config.eval_every_steps = 5000
    config.checkpoint_every_steps = 2000
    config.keep_checkpoints = 3
    config.init_from = ""  # Weights written by `python -m inception_jax.convert` (fine-tuning).
    config.fsdp = False  # Shard large parameters over the data axis too.
    config.grad_accum_steps = 1  # Micro-batches per step, for global batches larger than memory.

    from inception_jax.data import pipeline  # noqa: PLC0415 (TensorFlow only where input is configured)

    config.input = pipeline.default_input_config()
    config.input.update(dataset="imagenet2012", train_split="train", eval_split="validation", image_size=299,
                        batch_size=1024, eval_batch_size=1024, crop_area_range=(0.05, 1.0), flip=True,
                        color_distortion=True)

    config.optimizer = optimizer_config()
    config.schedule = schedule_config()
    return config


def digits_recipe(model_name: str, **model_options) -> ml_collections.ConfigDict:
    """The paper's recipe at reduced scale: scikit-learn's digits at 75×75, offline, minutes on a CPU.

    Networks are narrowed (width ×0.25); `model_options` override that and any other create_model option.
    """
    config = paper_recipe(model_name)
    # slim's BatchNorm decay 0.9997 suits 100 ImageNet epochs; a few hundred steps need 0.9.
    config.model.update({"width_multiplier": 0.25, "min_depth": 8, "bn_momentum": 0.9, **model_options})
    config.input = digits_input(image_size=75)
    config.total_epochs = 12.0
    config.log_every_steps = 22
    config.eval_every_steps = 22
    config.checkpoint_every_steps = 88
    config.optimizer.ema_decay = 0.99
    config.schedule.reference_batch_size = 64
    return config


def digits_input(image_size: int, **overrides) -> ml_collections.ConfigDict:
    """Input settings for the embedded digits (1,437 train / 360 test images) shown at `image_size`."""
    from inception_jax.data import pipeline  # noqa: PLC0415

    config = pipeline.default_input_config()  # whose defaults are the digits'
    config.update(image_size=image_size, batch_size=64, eval_batch_size=120, **overrides)
    return config


def parse_arg(arg: str | None, **defaults):
    """Parses a config argument `key=value,key=value` over `defaults` (values take the defaults' types)."""
    values = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        key, _, value = item.partition("=")
        if key not in defaults:
            raise ValueError(f"Unknown config argument {key!r}; valid: {', '.join(defaults)}.")
        kind = type(defaults[key])
        values[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return ml_collections.ConfigDict(values)
