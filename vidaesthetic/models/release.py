"""The paper authors' released model: where it is, how to verify it, how to convert it.

The release is a TF-slim ``resnet_v1_50`` TensorFlow checkpoint plus a mean
image, in the authors' repository at a pinned commit. Each file is verified
by its git blob SHA-1 (what the repository itself records) and converted to
a safetensors weights file; TensorFlow is never needed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, NamedTuple, Optional

import numpy as np

from ..errors import ModelError, PathLike
from .safe_pickle import load_mean_image
from .slim_convert import network_size, state_dict_from_slim
from .slim_resnet import PAPER_MODEL, AestheticResNet
from .spec import model_spec
from .tf_checkpoint import read_checkpoint
from .weights import save_weights

log = logging.getLogger("vidaesthetic")

REPOSITORY = "cgtuebingen/will-people-like-your-image"
COMMIT = "7fd65d859790fa4a2050b6769f3cf174babd35bc"
SCOPE = "resnet_v1_50"
URL_ENVIRONMENT = "VIDAESTHETIC_RELEASE_URL"


class ReleaseFile(NamedTuple):
    git_blob: str
    size: int


INDEX, DATA, MEAN = "ae_model.index", "ae_model.data-00000-of-00001", "mean_bgr.p"
FILES: Dict[str, ReleaseFile] = {
    INDEX: ReleaseFile("950bf7d208ebf25f0ec8546d9800d5a60375fef7", 11254),
    DATA: ReleaseFile("69b736bb9d0de43dc41109103249b5a57c39f21d", 102440608),
    MEAN: ReleaseFile("381ccbe4fd41cedb6a71f790723abbbb2ee28fad", 3439175),
}


def base_url() -> str:
    """Where the release files are served; ``VIDAESTHETIC_RELEASE_URL`` overrides it (mirrors, tests)."""
    default = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/demo/data/"
    return os.environ.get(URL_ENVIRONMENT, default).rstrip("/") + "/"


def checkpoint_prefix(location: PathLike) -> Path:
    """The checkpoint prefix from a folder, a prefix, or a path to its ``.index``."""
    path = Path(location)
    if path.is_dir():
        path = path / "ae_model"
    if path.suffix == ".index":
        path = path.with_suffix("")
    if not path.with_name(path.name + ".index").is_file():
        raise ModelError("no TensorFlow checkpoint here (expected PREFIX.index and PREFIX.data-*)", location)
    return path


def convert_checkpoint(
    prefix: PathLike, destination: PathLike, mean_image: Optional[PathLike] = None,
    provenance: Optional[Dict[str, object]] = None, authors_weights: bool = False, channel_mean: bool = False,
) -> str:
    """Convert a slim ``resnet_v1_50`` checkpoint (and its mean image) to a weights file.

    The channel means instead of the mean image change the authors' scores
    by 1-36 %: without the mean image, the authors' weights
    (``authors_weights``) are refused unless ``channel_mean`` says to use the
    channel means, and other checkpoints are converted with a warning.
    Returns the new file's ``weights_id``.
    """
    variables = read_checkpoint(prefix)
    width, outputs = network_size(variables, SCOPE)
    mean = _mean(mean_image, prefix, authors_weights, channel_mean)
    model = AestheticResNet(depth=50, width=width, embedding_dim=outputs, mean=mean)
    model.net.load_state_dict(state_dict_from_slim(variables, SCOPE))
    return save_weights(model, destination, provenance)


def is_authors_checkpoint(prefix: PathLike) -> bool:
    """Whether the checkpoint's index and data are the authors' release files, byte for byte."""
    from .._internal.download import git_blob_sha1

    folder = Path(prefix).parent
    return all((folder / name).is_file() and git_blob_sha1(folder / name) == FILES[name].git_blob
               for name in (INDEX, DATA))


def _mean(mean_image: Optional[PathLike], prefix: PathLike, authors_weights: bool, channel_mean: bool):
    """The release's mean image in RGB order, or the registered channel means when allowed."""
    spec = model_spec(PAPER_MODEL)
    if mean_image is None or not Path(mean_image).is_file():
        if channel_mean:
            log.info("using the authors' channel means, not their mean image, as asked")
        elif authors_weights:
            raise ModelError("is the authors' model but its mean image (mean_bgr.p) is missing: scores would move "
                             "by 1-36 %; pass --mean FILE, or --channel-mean to accept that", prefix)
        else:
            log.warning("no mean image (mean_bgr.p) found: using the authors' channel means instead")
        return spec.mean
    image = load_mean_image(mean_image)
    return np.ascontiguousarray(image[::-1] if spec.colour_order == "BGR" else image)


def release_provenance(folder: Path, verified: bool) -> Dict[str, object]:
    return {
        "source": "authors' release" if verified else "user checkpoint",
        "paper": "Will People Like Your Image? Learning the Aesthetic Space (WACV 2018)",
        "repository": REPOSITORY,
        "commit": COMMIT if verified else None,
        "files": sorted(p.name for p in folder.iterdir() if p.name in FILES),
    }
