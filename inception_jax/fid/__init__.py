"""FID and KID with TensorFlow's 2015-12-05 Inception-v3 graph (`inception_v3_fid`), exact to the reference tools.

    from inception_jax import fid

    extractor = fid.load_extractor("default_1.pt")  # or inception-2015-12-05.pt, pt_inception-...pth; all devices
    feats_a = np.concatenate(list(fid.features(fid.read_images("folder_a"), extractor)))  # files read one by one
    feats_b = np.concatenate(list(fid.features(np.load("images_b.npz")["images"], extractor, resize="pytorch_fid")))
    print(fid.frechet_distance(*fid.statistics(feats_a), *fid.statistics(feats_b)))  # 158.2797
    print(fid.kernel_inception_distance(feats_a, feats_b))  # KernelDistance(mean=-0.0835..., std=...)
    mu_a, sigma_a = fid.statistics(fid.features(fid.read_images("folder_a"), extractor))  # streamed: one batch held

The command line: `python -m inception_jax.fid --weights=WEIGHTS A B` (see its `--help`). Nothing here imports
TensorFlow or PyTorch, and nothing is downloaded: pass the weights file.
"""

from inception_jax.fid.distance import (
    FRECHET_METHODS,
    KernelDistance,
    RunningStatistics,
    frechet_distance,
    kernel_inception_distance,
    statistics,
)
from inception_jax.fid.extract import Extractor, features, load_extractor
from inception_jax.fid.inputs import read_images, read_input
from inception_jax.fid.metric import FIDMetric
from inception_jax.fid.resize import RESIZE_MODES, clean_resize, pytorch_fid_resize, tensorflow_resize
from inception_jax.fid.scores import inception_score, precision_recall

__all__ = [
    "FIDMetric",
    "FRECHET_METHODS",
    "Extractor",
    "KernelDistance",
    "RESIZE_MODES",
    "RunningStatistics",
    "clean_resize",
    "features",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "load_extractor",
    "precision_recall",
    "pytorch_fid_resize",
    "read_images",
    "read_input",
    "statistics",
    "tensorflow_resize",
]
