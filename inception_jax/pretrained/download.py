"""Files from their canonical addresses, into a cache, checked against the publisher's hash before use.

A download streams to a temporary file inside the cache (with a progress bar), hashing as it goes; only a file
whose hash matches is renamed into place, so the cache never holds a partial or wrong file. A cached file is
checked again each time it is used, so a file copied there by hand is held to the same hash.

The cache is `cache_dir` when given, else `$INCEPTION_JAX_CACHE`, else `~/.cache/inception_jax`. With
`HF_HUB_OFFLINE=1` nothing is fetched: only cached files are used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import tempfile
import urllib.error
import urllib.request

from tqdm.auto import tqdm

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class WeightsUnavailableError(OSError):
    """A weight file is neither in the cache nor reachable; the message says where to put a copy."""


class HashMismatchError(OSError):
    """A downloaded or cached file's hash differs from the published one."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The cache folder: `cache_dir`, else `$INCEPTION_JAX_CACHE`, else `~/.cache/inception_jax`."""
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    return pathlib.Path(os.environ.get("INCEPTION_JAX_CACHE") or pathlib.Path.home() / ".cache" / "inception_jax")


def offline() -> bool:
    """Whether `HF_HUB_OFFLINE` asks for no network (read at each call)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def file_hash(path: str | os.PathLike, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(actual: str, expected: str) -> bool:
    """`expected` is the whole hex digest or, as torch.hub file names carry it, its prefix."""
    return bool(expected) and actual.startswith(expected.lower())


def fetch(url: str, algorithm: str, digest: str, cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The cached copy of `url`, downloaded first if needed; its `algorithm` hash starts with `digest`.

    Raises:
      HashMismatchError: the file's hash is not the published one (nothing is kept).
      WeightsUnavailableError: not cached and not reachable; names the address, the hash and the cache path.
    """
    root = cache_root(cache_dir)
    path = root / url.rsplit("/", 1)[-1]
    if path.exists():
        _check(path, path, url, algorithm, digest)
        return path
    if offline():
        raise _unavailable(url, algorithm, digest, path, "HF_HUB_OFFLINE is set")
    root.mkdir(parents=True, exist_ok=True)
    try:
        response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except (urllib.error.URLError, OSError) as error:
        raise _unavailable(url, algorithm, digest, path, str(error)) from error
    handle, temporary = tempfile.mkstemp(dir=root, prefix=f".{path.name}.", suffix=".part")
    try:
        try:
            with response, os.fdopen(handle, "wb") as file:
                _stream(response, file, path.name)
        except (http.client.HTTPException, OSError) as error:
            raise OSError(f"Downloading {url} failed ({error!r}); nothing was kept, call again to retry.") from error
        _check(pathlib.Path(temporary), path, url, algorithm, digest)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _stream(response, file, label: str) -> None:
    """Copies the response to `file`; a connection closed before its Content-Length raises."""
    size = response.headers.get("Content-Length")
    total = int(size) if size else None
    written = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
        while chunk := response.read(_CHUNK):
            file.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    if total is not None and written != total:
        raise OSError(f"the connection closed after {written} of {total} bytes")


def _check(path: pathlib.Path, destination: pathlib.Path, url: str, algorithm: str, digest: str) -> None:
    actual = file_hash(path, algorithm)
    if not _matches(actual, digest):
        raise HashMismatchError(
            f"{destination} (from {url}) has {algorithm} {actual}, but the publisher's is {digest}"
            f"{'…' if len(digest) < len(actual) else ''}; the file is corrupt or not the published one "
            "(a downloaded file is not kept; remove a cached one and retry)."
        )


def _unavailable(url: str, algorithm: str, digest: str, path: pathlib.Path, reason: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Cannot download {url} ({reason}), and it is not cached. Copy the file (its {algorithm} starts with "
        f"{digest}) to {path} and it will be used; set INCEPTION_JAX_CACHE or pass cache_dir to use another folder."
    )
