"""The networks before Inception-v3, each with its own paper's recipe (SGD with momentum; table below).

ImageNet (TFDS `imagenet2012`, files in `manual_dir`):
    python -m inception_jax.main --config=inception_jax:lineage:model=resnet50 --workdir=runs/resnet50 \\
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS

CIFAR-10 (TFDS `cifar10`; the §4.2 networks resnet20 … resnet110, plain20, plain56):
    python -m inception_jax.main --config=inception_jax:lineage:model=resnet56 --workdir=runs/resnet56

Where a paper lowers the rate "when the validation error stops improving", the boundaries below are fixed epochs
(our choice, the usual reproduction); the papers' other constants are theirs.
"""

from inception_jax.configs import paper, parse_arg
from inception_jax.models import get_model_class, googlenet

# Model-name prefix → base learning rate at `batch`, weight decay, the factor applied at each boundary epoch (or
# every `period` epochs), and the total epochs.
IMAGENET_RECIPES = {
    # Krizhevsky 2012 §5 (ZFNet §3 the same): batch 128, lr 0.01 ÷10 three times, wd 5e-4, ~90 epochs.
    "alexnet": dict(lr=0.01, batch=128, wd=5e-4, decay=0.1, boundaries=(30, 60, 80), epochs=90),
    "zfnet": dict(lr=0.01, batch=128, wd=5e-4, decay=0.1, boundaries=(25, 50, 60), epochs=70),
    # Lin 2013 (the authors' Caffe solver): lr 0.01 ÷10 on plateaus.
    "nin": dict(lr=0.01, batch=128, wd=5e-4, decay=0.1, boundaries=(30, 60, 80), epochs=90),
    # Simonyan 2014 §3.1: batch 256, lr 0.01 ÷10 three times, wd 5e-4, 74 epochs.
    "vgg": dict(lr=0.01, batch=256, wd=5e-4, decay=0.1, boundaries=(30, 50, 65), epochs=74),
    # Szegedy 2014 §6: momentum 0.9, lr ×0.96 every 8 epochs, Polyak averaging; the base rate is not given.
    "googlenet": dict(lr=0.04, batch=256, wd=2e-4, decay=0.96, period=8, epochs=250),
    # He 2015 §3.4: batch 256, lr 0.1 ÷10 on plateaus, wd 1e-4, 60·10⁴ iterations (~120 epochs).
    "resnet": dict(lr=0.1, batch=256, wd=1e-4, decay=0.1, boundaries=(30, 60, 90), epochs=120),
}
# He 2015 §4.2: batch 128, lr 0.1, ÷10 at 32k and 48k iterations, stop at 64k (391 steps per 50k-image epoch).
CIFAR_RECIPE = dict(lr=0.1, batch=128, wd=1e-4, decay=0.1, boundaries=(82, 123), epochs=164)


def recipe_for(model_name: str) -> tuple[dict, bool]:
    """The recipe of `model_name`'s paper, and whether it is a CIFAR-10 network."""
    if get_model_class(model_name).default_size == 32:
        return CIFAR_RECIPE, True
    family = model_name.removeprefix("preact_").replace("plain", "resnet")  # plain18/34: ResNet's recipe (§4.1)
    for prefix, recipe in IMAGENET_RECIPES.items():
        if family.startswith(prefix):
            return recipe, False
    raise ValueError(
        f"No lineage recipe for {model_name!r}; choose a network named {sorted(IMAGENET_RECIPES)}… or "
        "a CIFAR one (resnet20 … resnet110, plain20, plain56). Inception networks have their own "
        "configs (inception_jax:inception_v4, ...)."
    )


def get_config(arg=None):
    args = parse_arg(arg, model="resnet50", seed=0)
    recipe, cifar = recipe_for(args.model)
    config = paper.get_config()
    config.model_name = args.model
    config.seed = args.seed
    config.model = {"aux_head": args.model == "googlenet"}  # dropout rates are each model's own default
    if cifar:
        config.input.update(
            dataset="cifar10",
            eval_split="test",
            image_size=32,
            crop_padding=4,
            flip=True,
            color_distortion=False,
            eval_crop_fraction=1.0,
        )
    else:
        config.input.update(
            image_size=get_model_class(args.model).default_size, crop_area_range=(0.08, 1.0), color_distortion=False
        )
    config.input.update(batch_size=recipe["batch"], eval_batch_size=max(recipe["batch"], 256))
    config.optimizer.update(name="sgd", momentum=0.9, weight_decay=recipe["wd"])
    aux_loss_weight = googlenet.AUX_LOSS_WEIGHT if args.model == "googlenet" else 0.0  # GoogLeNet §5
    config.loss.update(label_smoothing=0.0, aux_loss_weight=aux_loss_weight)
    config.schedule.update(
        base_learning_rate=recipe["lr"],
        reference_batch_size=recipe["batch"],
        decay_rate=recipe["decay"],
        boundaries_epochs=tuple(recipe.get("boundaries", ())),
        epochs_per_decay=float(recipe.get("period", 1)),
    )
    config.total_epochs = float(recipe["epochs"])
    return config
