"""Pretrained weights in and out: timm and torchvision state_dicts, Keras 3 applications, TF-slim checkpoints.

    module, variables = inception_jax.convert.from_timm("inception_v4", "inception_v4.safetensors")
    module, variables = inception_jax.convert.from_keras("inception_resnet_v2", keras_model_or_weights_file)
    module, variables = inception_jax.convert.from_slim("inception_v3", "inception_v3.ckpt")
    state_dict = inception_jax.convert.to_timm("inception_v4", variables)
    state_dict = inception_jax.convert.to_torchvision("resnet50", variables)
    module, variables = inception_jax.convert.from_inception_2015("inception-2015-12-05.pt")  # into inception_v3
    module, variables = inception_jax.convert.from_torch_fid("pt_inception-2015-12-05-6726825d.pth")  # FID network

Each `from_*` returns a network built to compute exactly what the source computes (the 2015 graph: up to its
Mixed_7c pool branch, see `inception_2015`), and its variables (`params`, `batch_stats`). Weights that do not
fit raise `WeightMismatchError`, naming the keys; nothing is ever loaded partially. TensorFlow and Keras are
imported only by the functions that read their formats; PyTorch's files are read without PyTorch (`torch_files`).
The command line (`python -m inception_jax.convert --help`) writes converted weights as an Orbax checkpoint.
"""

from inception_jax.convert.inception_2015 import from_inception_2015
from inception_jax.convert.keras import from_keras
from inception_jax.convert.mismatch import WeightMismatchError
from inception_jax.convert.slim import from_slim
from inception_jax.convert.timm import from_timm, to_timm
from inception_jax.convert.torch_fid import from_torch_fid
from inception_jax.convert.torchvision import from_torchvision, to_torchvision

__all__ = [
    "from_timm",
    "to_timm",
    "from_torchvision",
    "to_torchvision",
    "from_keras",
    "from_slim",
    "from_inception_2015",
    "from_torch_fid",
    "WeightMismatchError",
]
