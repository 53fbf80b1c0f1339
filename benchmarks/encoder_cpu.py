"""Encoder throughput on this machine for each execution path we support.

    python benchmarks/encoder_cpu.py [--depth 50] [--size 224] [--batch 16] [--compile]

Prints images/s per path and each path's rank agreement (Spearman) with
float32 on the same random-weight model and frames of a real clip, if given.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from vidaesthetic.models import AestheticResNet
from vidaesthetic.video import open_video


def images_per_second(run, frames: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        run(frames)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            run(frames)
    return repeats * len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--video", default=None, help="a clip whose frames are scored by every path")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to start)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = AestheticResNet(args.depth, input_size=(args.size, args.size)).eval()
    frames = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)
    clip = None
    if args.video:
        with open_video(args.video) as source:
            clip = torch.cat([b.frames for b in source.batches(size=(args.size, args.size))])[:96]

    fast = AestheticResNet(args.depth, input_size=(args.size, args.size)).eval()
    fast.load_state_dict(model.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    paths = {
        "fp32 NCHW": model.embed,
        "fp32 channels_last": fast.embed,
    }

    def bf16(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fast.embed(x)

    paths["bf16 autocast channels_last"] = bf16
    traced = torch.jit.freeze(torch.jit.trace(fast.net, torch.zeros(1, 3, args.size, args.size)
                                              .to(memory_format=torch.channels_last)).eval())
    paths["fp32 TorchScript frozen"] = lambda x: traced((x.float() - fast.mean).contiguous(memory_format=torch.channels_last))
    if args.compile:
        compiled = torch.compile(fast.net)
        paths["fp32 torch.compile"] = lambda x: compiled((x.float() - fast.mean).contiguous(memory_format=torch.channels_last))

    reference = None
    print(f"resnet_v1_{args.depth} at {args.size}x{args.size}, batch {args.batch}, {torch.get_num_threads()} threads")
    for name, run in paths.items():
        speed = images_per_second(run, frames, args.repeats)
        agreement = ""
        if clip is not None:
            with torch.inference_mode():
                scores = torch.cat([run(c).float().norm(dim=1) for c in clip.split(args.batch)]).numpy()
            reference = scores if reference is None else reference
            agreement = f"  spearman vs fp32 {spearmanr(reference, scores).statistic:.5f}"
        print(f"{name:32s} {speed:8.1f} img/s{agreement}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
