"""Per-image cost of each variant's training step and of inference, to extrapolate seconds per epoch.

Full-data runs of the CPU recipe take hours; this measures a few batches of random 224x224 input instead
(the cost of a step does not depend on the pixels) and prints the extrapolated seconds per epoch for Mini Natural
Images (1022 train + 695 val images). Decoding and augmentation are not included (a few ms per image).
    python3 bench/finetune/timing.py --threads 2 --steps 2
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts in the repository

from allocator import tame_glibc_malloc  # before torch allocates anything

ALLOCATOR = tame_glibc_malloc()

import argparse
import json
import os
import time

import torch
from torch import nn

from finetune import FROZEN_PREFIX, REPO, build_model, set_train_mode

TRAIN_IMAGES, VAL_IMAGES = 1022, 695


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", default=os.path.join(REPO, "onnx", "resnet50.onnx"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=2, help="timed batches per measurement (after one warm-up batch)")
    p.add_argument("--warmup", type=int, default=3, help="untimed batches before each measurement")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--variants", default="head,stage5,full")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=None, help="also write the summary here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x = torch.randn(args.batch_size, 3, 224, 224, device=device) * 60
    y = torch.randint(0, 8, (args.batch_size,), device=device)

    def timed(step) -> float:
        for _ in range(args.warmup):  # allocator, oneDNN primitive creation, thread pool start-up
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / (args.steps * args.batch_size)

    variants = args.variants.split(",")
    for variant in variants:
        if variant not in FROZEN_PREFIX:
            p.error(f"Expected --variants to list {sorted(FROZEN_PREFIX)} but received {variant}")

    def measure(variant: str):
        model = build_model(argparse.Namespace(onnx=args.onnx, variant=variant), 8).to(device)
        optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=1e-3)

        def train_step():
            set_train_mode(model, variant)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

        def eval_step():
            model.eval()
            with torch.no_grad():
                model(x)

        return timed(train_step), timed(eval_step)

    print(ALLOCATOR, flush=True)
    results = {}
    for variant in variants:
        train_s, eval_s = measure(variant)
        epoch_s = TRAIN_IMAGES * train_s + VAL_IMAGES * eval_s
        results[variant] = {"train_ms_per_image": 1000 * train_s, "eval_ms_per_image": 1000 * eval_s,
                            "epoch_seconds": epoch_s}
        print(f"{variant}: train {1000 * train_s:.0f} ms/image, eval {1000 * eval_s:.0f} ms/image -> "
              f"~{epoch_s:.0f} s per epoch (1022 train + 695 val), ~{25 * epoch_s / 60:.0f} min for 25 epochs",
              flush=True)
    summary = {"device": str(device), "threads": args.threads, "batch_size": args.batch_size, "steps": args.steps,
               "cpu_count": os.cpu_count(), "torch": torch.__version__, "allocator": ALLOCATOR, "load_average": os.getloadavg(),
               "variants": results}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
