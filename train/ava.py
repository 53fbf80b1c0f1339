"""``python -m train ava``: the paper's AVA protocol (Table 3).

AVA.txt rows are ``index image_id c1 ... c10 tag1 tag2 challenge``: the
votes for scores 1 to 10. An image is "good" when its mean vote is at least 5.
A small logistic head is fitted on the frozen embedding (and its norm) over
the training split and its binary accuracy is reported on the test split.
The paper reached 75.83 % after fine-tuning on AVA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set

import numpy as np
import torch

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
            features.append(torch.cat([embedding, embedding.norm(dim=1, keepdim=True)], dim=1))
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


def ava_accuracy(model: AestheticModel, ava_file: Path, image_dir: Path, size: int,
                 test_ids: Optional[Set[str]] = None, test_fraction: float = 0.2) -> Dict[str, float]:
    """Binary accuracy of a head on the model's embedding; the test split is ``test_ids`` or a stable fraction."""
    images = [image for image in parse_ava(ava_file) if (image_dir / f"{image.image_id}.jpg").is_file()]
    if len(images) < 10:
        raise InputError(f"only {len(images)} AVA images found as <id>.jpg", image_dir)
    is_test = [(image.image_id in test_ids) if test_ids else is_validation(image.image_id, test_fraction)
               for image in images]
    features = _features(model, [image_dir / f"{image.image_id}.jpg" for image in images], size)
    labels = torch.tensor([float(image.good) for image in images])
    test = torch.tensor(is_test)
    mean, std = features[~test].mean(0), features[~test].std(0).clamp_min(1e-6)
    standardised = (features - mean) / std
    with torch.enable_grad():
        head = _fit_head(standardised[~test], labels[~test])
    with torch.no_grad():
        predicted = head(standardised[test])[:, 0] > 0
    accuracy = float((predicted == labels[test].bool()).float().mean())
    return {"accuracy": accuracy, "test_images": int(test.sum()), "train_images": int((~test).sum()),
            "good_share": float(labels.mean()), "paper_accuracy": PAPER_ACCURACY}
