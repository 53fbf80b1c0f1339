"""``python -m train ava``: binary accuracy on AVA, as in the paper's Table 3.

AVA.txt rows are ``index image_id c1 ... c10 tag1 tag2 challenge``: the
votes for scores 1 to 10. An image is "good" when its mean vote is at least 5.

The paper's protocol (:func:`finetune_accuracy`): the whole network is
fine-tuned on the training images, with a linear layer on the embedding
predicting the label, and its accuracy is reported on the test images; the
paper reached 75.83 %. The standard split is AVA's own lists
(``--train-list``/``--test-list``); without them a stable hash of the ids
splits the images, and the result says so. ``--probe``
(:func:`probe_accuracy`) instead fits a logistic head on the frozen
embedding: cheaper, and not the paper's protocol.

Every result gives the majority-class rate of the test images beside the
accuracy: about 0.7 of AVA is "good", so an accuracy means little alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch
from tqdm import tqdm

from vidaesthetic.curve.scoring import progress_enabled
from vidaesthetic.errors import InputError
from vidaesthetic.models import AestheticModel

from .data import ImageLoader, is_validation

PAPER_ACCURACY = 0.7583
GOOD_MEAN = 5.0


@dataclass
class AvaImage:
    image_id: str
    mean_score: float

    @property
    def good(self) -> bool:
        return self.mean_score >= GOOD_MEAN


def parse_ava(path: Path) -> List[AvaImage]:
    """Images with at least one vote; malformed rows are an error naming the line."""
    images = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                votes = np.asarray([int(v) for v in fields[2:12]], dtype=np.float64)
                if len(votes) != 10:
                    raise ValueError
            except ValueError:
                raise InputError(f"line {number} is not an AVA row (index id c1..c10 ...)", path) from None
            if votes.sum() > 0:
                images.append(AvaImage(fields[1], float((votes * np.arange(1, 11)).sum() / votes.sum())))
    if not images:
        raise InputError("no AVA rows with votes", path)
    return images


@torch.inference_mode()
def _features(model: AestheticModel, paths: Sequence[Path], size: int, batch: int = 64) -> torch.Tensor:
    model.eval()
    features = []
    with ImageLoader(size) as loader:
        for begin in range(0, len(paths), batch):
            embedding = model.embed(loader.load(paths[begin : begin + batch]).to(model.device)).float().cpu()
            features.append(_with_norm(embedding))
    return torch.cat(features)


def _fit_head(features: torch.Tensor, labels: torch.Tensor, weight_decay: float = 1e-3) -> torch.nn.Linear:
    """Logistic regression on standardised features, fitted with L-BFGS."""
    head = torch.nn.Linear(features.shape[1], 1)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(features)[:, 0], labels)
        loss = loss + weight_decay * head.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head


@dataclass
class AvaSplit:
    """Training and test images found on disk, and how they were split."""

    train: List[AvaImage]
    test: List[AvaImage]
    split: str


def split_images(ava_file: Path, image_dir: Path, train_ids: Optional[Set[str]] = None,
                 test_ids: Optional[Set[str]] = None, test_fraction: float = 0.2) -> AvaSplit:
    """The images of AVA.txt present as ``<id>.jpg``, split by the lists given, else by a hash of their ids.

    With only a test list, every other image trains.
    """
    images = [image for image in parse_ava(ava_file) if (image_dir / f"{image.image_id}.jpg").is_file()]
    if len(images) < 10:
        raise InputError(f"only {len(images)} AVA images found as <id>.jpg", image_dir)
    if test_ids:
        test = [image for image in images if image.image_id in test_ids]
        train = [image for image in images if image.image_id not in test_ids
                 and (not train_ids or image.image_id in train_ids)]
        split = "the lists given" if train_ids else "the test list given; every other image trains"
    else:
        test = [image for image in images if is_validation(image.image_id, test_fraction)]
        train = [image for image in images if not is_validation(image.image_id, test_fraction)
                 and (not train_ids or image.image_id in train_ids)]
        split = f"a stable hash of the ids ({test_fraction:.0%} test), not AVA's standard lists"
    if not test or not train:
        raise InputError(f"the split leaves {len(train)} training and {len(test)} test images", ava_file)
    return AvaSplit(train, test, split)


def _summary(split: AvaSplit, accuracy: float, protocol: str) -> Dict[str, object]:
    good = np.mean([image.good for image in split.test])
    return {"protocol": protocol, "accuracy": accuracy, "majority_rate": float(max(good, 1 - good)),
            "test_images": len(split.test), "train_images": len(split.train), "good_share_test": float(good),
            "split": split.split, "paper_accuracy": PAPER_ACCURACY}


def probe_accuracy(model: AestheticModel, split: AvaSplit, image_dir: Path, size: int) -> Dict[str, object]:
    """Binary accuracy of a logistic head fitted on the frozen embedding (and its norm): not the paper's protocol."""
    paths = [image_dir / f"{image.image_id}.jpg" for image in split.train + split.test]
    features = _features(model, paths, size)
    labels = torch.tensor([float(image.good) for image in split.train + split.test])
    test = torch.arange(len(paths)) >= len(split.train)
    mean, std = features[~test].mean(0), features[~test].std(0).clamp_min(1e-6)
    standardised = (features - mean) / std
    with torch.enable_grad():
        head = _fit_head(standardised[~test], labels[~test])
    with torch.no_grad():
        predicted = head(standardised[test])[:, 0] > 0
    accuracy = float((predicted == labels[test].bool()).float().mean())
    return _summary(split, accuracy, "linear probe on the frozen embedding (not the paper's protocol)")


@dataclass
class FinetuneConfig:
    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0


def finetune_accuracy(model: AestheticModel, split: AvaSplit, image_dir: Path, size: int,
                      config: FinetuneConfig = FinetuneConfig(), progress: Optional[bool] = None
                      ) -> Dict[str, object]:
    """The paper's protocol: fine-tune the whole network with a linear layer on its embedding to predict
    the label (binary cross-entropy, SGD with momentum 0.9), then the accuracy on the test images.

    The layer reads the embedding and its norm (the score), standardised by a batch norm of its own; the
    network's batch norms keep their statistics, which small batches would spoil.
    """
    torch.manual_seed(config.seed)
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(model.embedding_dim + 1),
                               torch.nn.Linear(model.embedding_dim + 1, 1)).to(model.device)
    parameters = [*model.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(parameters, lr=config.lr, momentum=0.9, weight_decay=1e-4)
    order = list(split.train)
    shuffle = random.Random(config.seed)
    steps = config.epochs * -(-len(order) // config.batch_size)
    with ImageLoader(size) as loader, tqdm(total=steps, desc="fine-tuning on AVA", unit="batch",
                                           disable=not progress_enabled(progress), leave=False) as bar:
        for _ in range(config.epochs):
            shuffle.shuffle(order)
            for batch in _batches(order, config.batch_size):
                _train_mode(model)
                head.train()
                frames, labels = _load(loader, batch, image_dir, model.device)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(head(_with_norm(model.embed(frames)))[:, 0],
                                                                            labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                bar.update(1)
        model.eval()
        head.eval()
        correct = 0
        with torch.inference_mode():
            for batch in _batches(split.test, config.batch_size):
                frames, labels = _load(loader, batch, image_dir, model.device)
                correct += int(((head(_with_norm(model.embed(frames)))[:, 0] > 0) == labels.bool()).sum())
    accuracy = correct / len(split.test)
    return {**_summary(split, accuracy, "fine-tuned network (the paper's protocol)"), "epochs": config.epochs,
            "lr": config.lr, "batch_size": config.batch_size}


def _with_norm(embedding: torch.Tensor) -> torch.Tensor:
    return torch.cat([embedding, embedding.norm(dim=1, keepdim=True)], dim=1)


def _train_mode(model: AestheticModel) -> None:
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def _batches(images: Sequence[AvaImage], size: int) -> List[Sequence[AvaImage]]:
    return [images[start:start + size] for start in range(0, len(images), size)]


def _load(loader: ImageLoader, batch: Sequence[AvaImage], image_dir: Path,
          device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    frames = loader.load([image_dir / f"{image.image_id}.jpg" for image in batch]).to(device)
    return frames, torch.tensor([float(image.good) for image in batch], device=device)
