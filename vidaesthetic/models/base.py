"""The interface every aesthetic model implements.

A model maps a batch of frames to embeddings; the aesthetic score of a frame
is the L2 norm of its embedding (the paper's definition). Models take uint8
RGB frames exactly as the video layer produces them and do their own
preprocessing on their own device, so decoding never has to know which model
runs.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager, Dict, Optional, Tuple

import torch
from torch import nn


RESIZES = ("direct", "authors")
AUTHORS_FRAME_SIZE = (256, 256)
"""The authors re-encoded every video to 256 x 256 (aspect not kept) before scoring it."""


class AestheticModel(nn.Module):
    """Frames in, embeddings out; ``score`` is the embedding's L2 norm.

    Subclasses set the class or instance attributes below and implement
    :meth:`embed`.

    Attributes:
        name: registry name, e.g. ``"baseline"`` or ``"aesthetic-resnet50"``.
        input_size: (height, width) the network sees; frames are decoded at
            :attr:`frame_size`, which is the same unless ``resize`` says otherwise.
        embedding_dim: length D of each embedding.
        architecture: id of the network in weights files; None for
            training-free models. A learned model saves its ``state_dict``
            and :meth:`weights_config` (see :mod:`vidaesthetic.models.weights`).
    """

    name: str = "model"
    input_size: Tuple[int, int] = (224, 224)
    embedding_dim: int = 0
    architecture: Optional[str] = None
    precision: Optional[torch.dtype] = None
    """Autocast dtype for :meth:`embed` on the model's device (None: float32)."""
    quantized: bool = False
    """Whether the network runs in int8 (see :mod:`vidaesthetic.models.int8`)."""
    resize: str = "direct"
    """How a frame reaches ``input_size``: ``"direct"`` (the whole frame resized to it, antialiased) or
    ``"authors"`` (as the authors' demo did; see :class:`vidaesthetic.models.AestheticResNet`)."""
    _weights_id: Optional[str] = None

    @property
    def weights_id(self) -> str:
        """A short content hash of the weights: ``"builtin"`` for training-free models, ``"random"`` until loaded."""
        if self._weights_id is not None:
            return self._weights_id
        return "builtin" if self.architecture is None else "random"

    @property
    def frame_size(self) -> Tuple[int, int]:
        """(height, width) frames are decoded at: ``input_size``, or the authors' 256 x 256 squash."""
        return AUTHORS_FRAME_SIZE if self.resize == "authors" else self.input_size

    @weights_id.setter
    def weights_id(self, value: str) -> None:
        self._weights_id = value

    def weights_config(self) -> Dict[str, object]:
        """Constructor keyword arguments (JSON values) that rebuild this network; weights files record them."""
        return {}

    def guided_backprop(self) -> Optional[ContextManager[None]]:
        """A context in which every ReLU's backward is guided, for saliency maps; None if the model has none."""
        return None

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    def describe(self) -> Dict[str, object]:
        """Provenance recorded with every output the model produces."""
        return {
            "name": self.name,
            "weights_id": self.weights_id,
            "input_size": list(self.input_size),
            "embedding_dim": self.embedding_dim,
            "precision": "int8" if self.quantized else str(self.precision).replace("torch.", "") if self.precision
            else "float32",
            **({"resize": self.resize} if self.resize != "direct" else {}),  # earlier records had no such key
        }

    def autocast(self) -> ContextManager[object]:
        """The context to run :meth:`embed` in: autocast to :attr:`precision` when one is set."""
        if self.precision is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.precision)

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Embeddings (N x D, float32) of uint8 RGB frames (N x 3 x H x W) on ``self.device``."""
        raise NotImplementedError

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.embed(frames)

    @torch.inference_mode()
    def score(self, frames: torch.Tensor) -> torch.Tensor:
        """Aesthetic scores (N,) of a batch: the L2 norms of its embeddings (no gradients)."""
        with self.autocast():
            embeddings = self.embed(frames)
        return torch.linalg.vector_norm(embeddings.float(), dim=1)
