"""The paper's training recipe, every field written out: the config every other one starts from.

    python -m inception_jax.main --config=inception_jax:paper --workdir=runs/inception_v4 \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS

Inception-v4 on ImageNet (TFDS `imagenet2012`): RMSProp (decay 0.9, momentum 0.9, ε 1.0) at 0.045, ×0.94 every
2 epochs, weight decay 4e-5, label smoothing 0.1, aux loss 0.4, a parameter EMA of 0.9999, 100 epochs. The paper
trained 50 asynchronous replicas of batch 32 at 0.045; synchronous batches scale the rate linearly from
`schedule.reference_batch_size` (batch 1024 trains at 0.18). The network configs beside this file change only
what differs for their network.
"""

import ml_collections
from ml_collections import config_dict


def get_config(arg=None):
    del arg
    config = ml_collections.ConfigDict()
    config.model_name = "inception_v4"  # any name of inception_jax.list_models()
    # create_model options; the network's own defaults (slim's) for every option not listed.
    config.model = ml_collections.ConfigDict({"aux_head": True, "dropout_rate": 0.2})
    config.seed = 0  # initialisation, data order, augmentation and dropout
    config.total_steps = 0  # 0: derived from total_epochs
    config.total_epochs = 100.0
    config.log_every_steps = 100  # every step is in exactly one logged average
    config.eval_every_steps = 5000
    config.checkpoint_every_steps = 2000
    config.keep_checkpoints = 3
    config.init_from = ""  # weights written by `python -m inception_jax.convert` (fine-tuning)
    config.fsdp = False  # shard large parameters over the data axis too
    config.grad_accum_steps = 1  # micro-batches per step, for global batches larger than memory
    config.input = input_config()
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "rmsprop",  # or "sgd" (momentum, nesterov): the networks before Inception-v3
            "rms_decay": 0.9,
            "momentum": 0.9,
            "nesterov": False,  # sgd only
            "epsilon": 1.0,  # inside the square root, as TF1's RMSProp
            "weight_decay": 4e-5,  # L2 on conv and dense kernels only (slim's regulariser)
            "grad_clip_norm": 0.0,  # global-norm clipping; 0: none
            # Moved to `loss` and `ema`; still read for one release, with a warning naming the new field.
            "label_smoothing": config_dict.placeholder(float),
            "aux_loss_weight": config_dict.placeholder(float),
            "ema_decay": config_dict.placeholder(float),
        }
    )
    config.schedule = ml_collections.ConfigDict(
        {
            "base_learning_rate": 0.045,  # at reference_batch_size, scaled linearly with the global batch
            "reference_batch_size": 256,
            "decay_rate": 0.94,
            "epochs_per_decay": 2.0,  # staircase
            "boundaries_epochs": (),  # if set: multiply by decay_rate at these epochs instead (ResNet's ÷10 steps)
            "warmup_epochs": 0.0,  # linear warmup, multiplied into the decay so its boundaries stay on whole epochs
        }
    )
    config.loss = ml_collections.ConfigDict(
        {
            "label_smoothing": 0.1,
            "aux_loss_weight": 0.4,  # on every auxiliary classifier (GoogLeNet's two: 0.3)
        }
    )
    config.ema = ml_collections.ConfigDict(
        {
            "decay": 0.9999,  # of parameters and BatchNorm statistics, with TF's num_updates warm-up
        }
    )
    return config


def input_config(**overrides) -> ml_collections.ConfigDict:
    """The input fields, at the paper's ImageNet values; `overrides` replace any of them."""
    config = ml_collections.ConfigDict()
    config.dataset = "imagenet2012"  # any TFDS name, "sklearn_digits" (embedded) or "folder"
    config.data_dir = config_dict.placeholder(str)  # None: TFDS's default, ~/tensorflow_datasets or $TFDS_DATA_DIR
    config.manual_dir = config_dict.placeholder(str)  # imagenet2012's downloaded tars
    config.folder = config_dict.placeholder(str)  # dataset="folder": root of <split>/<class>/<image> files
    config.train_split = "train"
    config.eval_split = "validation"
    config.image_size = 299
    config.batch_size = 1024  # global, over all processes; a multiple of the device count
    config.eval_batch_size = 1024  # likewise
    # Training augmentation (slim's inception_preprocessing); each step can be switched off.
    config.random_crop = True  # distorted bounding-box crop
    config.crop_padding = 0  # > 0: pad-and-crop instead (He et al.'s CIFAR: 4)
    config.crop_area_range = (0.05, 1.0)
    config.aspect_ratio_range = (3 / 4, 4 / 3)
    config.min_object_covered = 0.1
    config.flip = True
    config.color_distortion = True
    config.color_ordering = "random"  # one of slim's 4 op orders per image; "fixed": always the first
    # The evaluation crop and the normalisation (the network's InputSpec). None: the pretrained weights' own
    # (init_from), else the Inception recipe's: central 87.5%, bilinear, [-1, 1].
    config.eval_crop_fraction = config_dict.placeholder(float)
    config.eval_crop_mode = config_dict.placeholder(str)  # "central_fraction" (slim) or "resize_shorter" (timm)
    config.eval_interpolation = config_dict.placeholder(str)  # "bilinear" or "bicubic"
    config.mean = config_dict.placeholder(tuple)  # per channel, of [0, 1] pixels; ImageNet's (0.485, 0.456, 0.406)
    config.std = config_dict.placeholder(tuple)
    # The train split is read in this many disjoint shards, each shuffled and augmented on its own; a process
    # reads its share. 0: one per process. A fixed value (e.g. 64) gives the same batches on any process count
    # that divides it, so a run can resume on another pod size.
    config.data_shards = 0
    config.shuffle_buffer = 10_000  # examples per data shard; holds encoded images, about 1 GB for ImageNet
    config.prefetch_batches = 2
    # dataset="folder": files that do not decode stop the run, listed; True skips them, counted in the log.
    config.skip_undecodable = False
    config.update(overrides)
    return config
