"""FID and KID with TensorFlow's 2015-12-05 Inception-v3 graph (`inception_v3_fid`), exact to the reference tools.

    from inception_jax import fid

    extractor = fid.load_extractor("inception-2015-12-05.pt")     # or pytorch-fid's .pth, fid-helper's default_1.pt
    feats_a = np.concatenate(list(fid.features(images_a, extractor, resize="pytorch_fid")))  # uint8 [N, H, W, 3]
    mu_a, sigma_a = fid.statistics(feats_a)                        # or stream: fid.statistics(fid.features(...))
    mu_b, sigma_b = fid.statistics(fid.features(fid.read_images("folder_b"), extractor))
    print(fid.frechet_distance(mu_a, sigma_a, mu_b, sigma_b))
    print(fid.kernel_inception_distance(feats_a, feats_b))         # KernelDistance(mean, std)

The command line: `python -m inception_jax.fid A B --weights=...` (see its `--help`). Nothing here imports
TensorFlow or PyTorch, and nothing is downloaded: pass the weights file.
"""

from inception_jax.fid.distance import KernelDistance, frechet_distance, kernel_inception_distance, statistics
from inception_jax.fid.extract import Extractor, features, load_extractor
from inception_jax.fid.inputs import read_images, read_input
from inception_jax.fid.resize import RESIZE_MODES, clean_resize, pytorch_fid_resize

__all__ = [
    "Extractor",
    "KernelDistance",
    "RESIZE_MODES",
    "clean_resize",
    "features",
    "frechet_distance",
    "kernel_inception_distance",
    "load_extractor",
    "pytorch_fid_resize",
    "read_images",
    "read_input",
    "statistics",
]
