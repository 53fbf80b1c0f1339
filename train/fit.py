"""``python -m train fit``: learn the aesthetic space from AROD triplets, as the paper does.

One step: each rank draws ``batch`` triplets (Eq. 3), loads their images,
embeds them and minimises the directional triplet loss with SGD. The
learning rate is divided by 10 when the held-out error stops improving.
Checkpoints are atomic and hold everything needed to continue exactly;
``torchrun`` runs the same code on several processes (gloo on CPU, nccl on
GPU) with each rank drawing from its own shard of anchors.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vidaesthetic._internal.atomic import replacing
from vidaesthetic._internal.devices import resolve_device
from vidaesthetic.errors import InputError
from vidaesthetic.models.slim_resnet import AestheticResNet

from . import checkpoint
from .data import ImageLoader, split
from .evaluate import agreement, score_images
from .imagenet import find_weights, load_imagenet
from .losses import directional_triplet_loss
from .prepare import load_manifest
from .triplets import TripletSampler

log = logging.getLogger("train")

ARCHITECTURES = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101}
MODEL_FIELDS = ("arch", "width", "size", "embedding_dim")
LOSS_PARTS = ("loss", "triplet", "directional")
LOG_FIELDS = ["step", "loss", "triplet", "directional", "lr", "reject_rate", "samples_per_s",
              "val_error", "val_agreement@0.1", "val_agreement@0.3", "val_spearman"]


@dataclasses.dataclass
class FitConfig:
    data: str
    out: str
    arch: str = "resnet50"
    width: float = 1.0
    size: int = 224
    embedding_dim: int = 1000
    batch: int = 32
    steps: int = 10_000
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    margin: float = 0.5
    directional_margin: float = 0.2
    normalize: bool = True
    alpha: float = 0.3
    beta: float = 0.7
    max_negatives: int = 50
    val_fraction: float = 0.1
    eval_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 10
    patience: int = 2
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    workers: int = 4
    imagenet: str = "auto"
    """``auto`` (use torchvision's weights if they are in the local hub cache), ``none``, or a file."""


class Ranks:
    """This process's place in a ``torchrun`` job (a job of one without it)."""

    def __init__(self, device: str) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device)
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        if self.world_size > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def gather(self, value: Any) -> List[Any]:
        if self.world_size == 1:
            return [value]
        values: List[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def from_main(self, value: Any) -> Any:
        if self.world_size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.world_size > 1:
            dist.destroy_process_group()


def build_model(config: FitConfig) -> AestheticResNet:
    if config.arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {config.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return AestheticResNet(ARCHITECTURES[config.arch], config.width, (config.size, config.size), config.embedding_dim)


def _initialise(model: AestheticResNet, config: FitConfig) -> str:
    """ImageNet weights when available (say which), else the random initialisation."""
    if config.imagenet == "none":
        return "random"
    path = find_weights(model.net.depth) if config.imagenet == "auto" else Path(config.imagenet)
    if path is None or (config.imagenet == "auto" and config.width != 1.0):
        return "random"
    load_imagenet(model.net, path)
    return f"imagenet ({path.name})"


def fit(config: FitConfig, resume: bool = False, progress: Optional[bool] = None) -> Dict[str, Any]:
    """Train (or continue) a run; returns the last logged metrics."""
    ranks = Ranks(config.device)
    try:
        return _Trainer(config, ranks, resume, progress).run()
    finally:
        ranks.close()


class _Trainer:
    def __init__(self, config: FitConfig, ranks: Ranks, resume: bool, progress: Optional[bool]) -> None:
        self.run_dir = Path(config.out)
        saved = checkpoint.load(self.run_dir) if resume else None
        if saved is not None:
            config = _resumed_config(saved["config"], config)
        self.config, self.ranks = config, ranks
        torch.manual_seed(config.seed)
        rows = load_manifest(config.data)
        self.train_rows, self.val_rows = split(rows, config.val_fraction)
        if len(self.train_rows) < 3:
            raise InputError(f"only {len(self.train_rows)} training images after the split; need at least 3",
                             config.data)
        self.scores = np.asarray([row.score for row in self.train_rows], dtype=np.float64)
        self.sampler = TripletSampler(self.scores, alpha=config.alpha, beta=config.beta,
                                      max_negatives=config.max_negatives, seed=config.seed,
                                      rank=ranks.rank, world_size=ranks.world_size)
        self.model = build_model(config).to(ranks.device).train()
        self.init = _initialise(self.model, config)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.1,
                                                                    patience=config.patience)
        self.step = 0
        if saved is not None:
            self._restore(saved)
        self.network = (DistributedDataParallel(self.model) if ranks.world_size > 1 else self.model)
        self.amp = config.amp and ranks.device.type == "cuda"
        self.progress = (sys.stderr.isatty() if progress is None else progress) and ranks.main
        self.metrics: Dict[str, Any] = {}
        self._fresh: Dict[str, Any] = {}  # held-out figures measured since the last log row

    def _restore(self, saved: Dict[str, Any]) -> None:
        if len(saved["samplers"]) != self.ranks.world_size:
            raise InputError(f"the checkpoint was made by {len(saved['samplers'])} processes, not "
                             f"{self.ranks.world_size}; resume with the same number", self.run_dir)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.sampler.load_state_dict(saved["samplers"][self.ranks.rank])
        torch.set_rng_state(saved["torch_rng"])
        self.step = int(saved["step"])
        self.init = saved["init"]

    def run(self) -> Dict[str, Any]:
        config = self.config
        if self.ranks.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._log_file = _LogFile(self.run_dir / "log.csv", self.step)
            log.info("training %s (init: %s) on %d images (%d held out), %s x %d processes",
                     config.arch, self.init, len(self.train_rows), len(self.val_rows),
                     self.ranks.device, self.ranks.world_size)
        bar = tqdm(total=config.steps, initial=self.step, unit="step", disable=not self.progress, file=sys.stderr)
        window: List[Dict[str, float]] = []
        with ImageLoader(config.size, config.workers) as loader, bar:
            while self.step < config.steps:
                started = time.perf_counter()
                window.append({**self._train_step(loader), "seconds": time.perf_counter() - started})
                self.step += 1
                bar.update(1)
                last = self.step == config.steps
                if self.step % config.eval_every == 0 or last:
                    self._evaluate()
                if self.step % config.log_every == 0 or last:
                    self._log(window)
                    window = []
                if self.step % config.checkpoint_every == 0 or last:
                    self._save()
        return self.metrics

    def _train_step(self, loader: ImageLoader) -> Dict[str, float]:
        triplets = self.sampler.sample(self.config.batch)
        paths = [self.train_rows[i].path for i in triplets.T.reshape(-1)]  # all anchors, positives, negatives
        frames = loader.load(paths).to(self.ranks.device, non_blocking=True)
        scores = torch.from_numpy(self.scores[triplets.T]).to(self.ranks.device, torch.float32)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()
        with autocast:
            embeddings = self.network(frames).float()
        anchor, positive, negative = embeddings.split(self.config.batch)
        parts = directional_triplet_loss(anchor, positive, negative, scores[0], scores[1], scores[2],
                                         margin=self.config.margin,
                                         directional_margin=self.config.directional_margin,
                                         normalize=self.config.normalize)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        self.optimizer.step()
        return {key: float(getattr(parts, part).detach()) for key, part in zip(LOSS_PARTS, parts._fields)}

    def _log(self, window: List[Dict[str, float]]) -> None:
        """One log row: means over the steps since the last row; held-out figures only where just measured."""
        seconds = sum(step["seconds"] for step in window)
        self.metrics.update({key: float(np.mean([step[key] for step in window])) for key in LOSS_PARTS})
        self.metrics.update(step=self.step, lr=self.optimizer.param_groups[0]["lr"],
                            reject_rate=self.sampler.reject_rate,
                            samples_per_s=len(window) * 3 * self.config.batch * self.ranks.world_size / seconds)
        if self.ranks.main:
            self._log_file.write({key: self._fresh.get(key, self.metrics.get(key)) for key in LOG_FIELDS
                                  if not key.startswith("val_") or key in self._fresh})
        self._fresh = {}

    def _evaluate(self) -> None:
        """Held-out agreement on the main rank; every rank steps its scheduler with the same error."""
        error = None
        if self.ranks.main:
            if len(self.val_rows) >= 3:
                predicted = score_images(self.model, [row.path for row in self.val_rows], self.config.size,
                                         workers=self.config.workers)
                result = agreement(predicted, np.asarray([row.score for row in self.val_rows]))
                error = 1.0 - result["agreement@0.1"]
                self._fresh = {"val_error": error, "val_agreement@0.1": result["agreement@0.1"],
                               "val_agreement@0.3": result["agreement@0.3"], "val_spearman": result["spearman"]}
                self.metrics.update(self._fresh)
            else:
                error = self.metrics.get("loss")  # no held-out images: the training loss decides
        error = self.ranks.from_main(error)
        if error is not None and math.isfinite(error):
            self.scheduler.step(error)

    def _save(self) -> None:
        samplers = self.ranks.gather(self.sampler.state_dict())
        if self.ranks.main:
            checkpoint.save(self.run_dir, {
                "config": dataclasses.asdict(self.config),
                "step": self.step,
                "init": self.init,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "samplers": samplers,
                "torch_rng": torch.get_rng_state(),
                "metrics": dict(self.metrics),
                "estimated_valid_triplets": self.sampler.estimated_valid_triplets(),
            })


def _resumed_config(saved: Dict[str, Any], given: FitConfig) -> FitConfig:
    """The saved run's settings, with only the length and housekeeping taken from the command line."""
    config = FitConfig(**saved)
    for field in MODEL_FIELDS:
        if getattr(given, field) != getattr(FitConfig(given.data, given.out), field) and \
                getattr(given, field) != saved[field]:
            raise InputError(f"the checkpoint is {field}={saved[field]!r}, not {getattr(given, field)!r}; "
                             "resume without changing the model", Path(given.out) / checkpoint.NAME)
    return dataclasses.replace(config, steps=given.steps, data=given.data, workers=given.workers,
                               device=given.device)


class _LogFile:
    """``log.csv``, one row per logging interval; on resume, rows after the checkpoint are dropped."""

    def __init__(self, path: Path, resumed_at: int) -> None:
        self.path = path
        kept = []
        if path.is_file() and resumed_at:
            with open(path, newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) <= resumed_at]
        with replacing(path) as temp, open(temp, "w", newline="") as handle:  # a crash here keeps the old log
            writer = csv.DictWriter(handle, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(kept)

    def write(self, row: Dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, LOG_FIELDS).writerow(
                {key: "" if value is None else (f"{value:.6g}" if isinstance(value, float) else value)
                 for key, value in row.items()})
