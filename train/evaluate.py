"""The paper's evaluation: does the model order images as people's S does?

Table 2 of the paper reports, for pairs whose S differ by more than
0.1 ... 0.6, how often people (Mechanical Turk workers) agreed with the
order S gives: people against S, with no model in it. Here the same buckets
measure how often the model's scores agree with S on held-out images, with
overall Spearman correlation. The people's figures are printed apart, as
what they are (how far S itself is from human judgement), not as a score
the model's column competes with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from vidaesthetic.models import AestheticModel

from .data import ImageLoader

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
PAPER_HUMAN_AGREEMENT = (0.78, 0.85, 0.88, 0.89, 0.89, 0.89)
MAX_PAIRS = 500_000


@torch.inference_mode()
def score_images(model: AestheticModel, paths: Sequence[Path], size: int, batch_size: int = 64,
                 workers: int = 4) -> np.ndarray:
    """The model's score of each image (eval mode), in order."""
    was_training = model.training
    model.eval()
    scores: List[np.ndarray] = []
    with ImageLoader(size, workers) as loader:
        for begin in range(0, len(paths), batch_size):
            frames = loader.load(paths[begin : begin + batch_size]).to(model.device)
            with model.autocast():
                scores.append(torch.linalg.vector_norm(model.embed(frames).float(), dim=1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores) if scores else np.empty(0)


def _pairs(count: int, seed: int) -> np.ndarray:
    """All pairs i < j, or a fixed random sample of them when there are too many."""
    total = count * (count - 1) // 2
    if total <= MAX_PAIRS:
        first, second = np.triu_indices(count, k=1)
        return np.stack([first, second], axis=1)
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, count, size=(MAX_PAIRS, 2))
    return pairs[pairs[:, 0] != pairs[:, 1]]


def agreement(predicted: np.ndarray, truth: np.ndarray, seed: int = 0) -> Dict[str, object]:
    """Pair agreement per |dS| threshold, pair counts, and Spearman's rho."""
    pairs = _pairs(len(truth), seed)
    delta_truth = truth[pairs[:, 0]] - truth[pairs[:, 1]]
    delta_predicted = predicted[pairs[:, 0]] - predicted[pairs[:, 1]]
    agrees = np.sign(delta_truth) == np.sign(delta_predicted)
    result: Dict[str, object] = {}
    for threshold in THRESHOLDS:
        chosen = np.abs(delta_truth) > threshold
        result[f"agreement@{threshold:.1f}"] = float(agrees[chosen].mean()) if chosen.any() else float("nan")
        result[f"pairs@{threshold:.1f}"] = int(chosen.sum())
    result["spearman"] = float(spearmanr(predicted, truth).statistic) if len(truth) > 2 else float("nan")
    return result


def table(metrics: Dict[str, object]) -> str:
    """The model's agreement with S per |dS| bucket; below it, apart, the paper's human agreement with S."""
    lines = ["Model agreement with S on held-out pairs:", "|dS| >   model   pairs"]
    for threshold in THRESHOLDS:
        lines.append(f"  {threshold:.1f}    {metrics[f'agreement@{threshold:.1f}']:.3f}  "
                     f"{metrics[f'pairs@{threshold:.1f}']:>8d}")
    lines.append(f"Spearman rho: {metrics['spearman']:.3f}")
    people = " / ".join(f"{value:.2f}" for value in PAPER_HUMAN_AGREEMENT)
    lines += ["", f"For reference, not a comparison: in the paper's Table 2, people agreed with S's order in "
                  f"{people} of pairs for the same buckets (people against S on the paper's images; no model)."]
    return "\n".join(lines)
