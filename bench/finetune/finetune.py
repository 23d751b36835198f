"""Fine-tuning baseline: the peer convfeat's frozen-feature linear heads are compared against.

Starts from exactly convfeat's ResNet50 weights (read from the converted ONNX file) and follows the original
demonstration's recipe: Adam lr 1e-3, StepLR step 7 x gamma 0.1, batch 16, RandomResizedCrop(224) + horizontal flip
for training, Resize(256) + CenterCrop(224) for val/test, 25 epochs, the model of the best val epoch is tested.
Normalisation is the Keras "caffe" one the weights were trained with (see preprocess.py for why).

Variants:
  head    new 8-class head only; the backbone is frozen
  stage5  last residual stage (conv5_x, res5a..res5c) + head
  full    the whole network
Frozen parts keep their BatchNorm layers in eval mode (running ImageNet statistics, no updates); trainable parts use
batch statistics in training, as PyTorch fine-tuning does. Features are never precomputed: every epoch runs the
backbone on freshly augmented crops, so the head-only variant is the recipe, not a linear probe.

Example (smoke): python3 bench/finetune/finetune.py --variant head --limit-per-class 4 --epochs 1 --threads 2
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts in the repository

from allocator import tame_glibc_malloc  # before torch allocates anything

ALLOCATOR = tame_glibc_malloc()

import argparse
import copy
import datetime
import json
import os
import platform
import time
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets

from keras_resnet50 import KerasResNet50, load_onnx_weights
from preprocess import eval_transform, train_transform

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DATA = os.environ.get("CONVFEAT_DATA", os.path.join(REPO, "..", "shared", "data", "mini_natural_images"))
FROZEN_PREFIX = {"head": ["stem", "stage2", "stage3", "stage4", "stage5"], "stage5": ["stem", "stage2", "stage3", "stage4"],
                 "full": []}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="folder with train/, val/, test/ ImageFolder splits (default: $CONVFEAT_DATA or the shared data)")
    p.add_argument("--onnx", default=os.path.join(REPO, "onnx", "resnet50.onnx"), help="convfeat's converted ResNet50")
    p.add_argument("--variant", choices=sorted(FROZEN_PREFIX), default="head")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this much wall time")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (decode + augmentation)")
    p.add_argument("--limit-per-class", type=int, default=None, help="first K images per class in each split (smoke)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--step-size", type=int, default=7)
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=None, help="write the summary here")
    args = p.parse_args(argv)
    for name in ("epochs", "threads", "batch_size", "step_size"):
        if getattr(args, name) < 1:
            p.error(f"Expected --{name.replace('_', '-')} to be an integer of at least 1 but received {getattr(args, name)}")
    if args.limit_per_class is not None and args.limit_per_class < 1:
        p.error(f"Expected --limit-per-class to be at least 1 but received {args.limit_per_class}")
    if args.max_minutes is not None and args.max_minutes <= 0:
        p.error(f"Expected --max-minutes to be a positive number but received {args.max_minutes}")
    if args.workers < 0:
        p.error(f"Expected --workers to be 0 or more but received {args.workers}")
    for split in ("train", "val", "test"):
        if not os.path.isdir(os.path.join(args.data, split)):
            p.error(f"Expected --data to contain a {split}/ folder but received {args.data}")
    if not os.path.isfile(args.onnx):
        p.error(f"Expected --onnx to be convfeat's converted ResNet50 but {args.onnx} does not exist "
                "(run `node dist/cli.js models fetch resnet50` or pass --onnx)")
    return args


def load_split(root: str, split: str, transform, limit: Optional[int]):
    folder = datasets.ImageFolder(os.path.join(root, split), transform=transform)
    if limit is None:
        return folder, folder.classes
    seen: Dict[int, int] = {}
    keep = []
    for i, (_, label) in enumerate(folder.samples):
        if seen.get(label, 0) < limit:
            seen[label] = seen.get(label, 0) + 1
            keep.append(i)
    return Subset(folder, keep), folder.classes


def build_model(args: argparse.Namespace, num_classes: int) -> KerasResNet50:
    model = KerasResNet50()
    load_onnx_weights(model, args.onnx)
    model.fc = nn.Linear(2048, num_classes)  # the demonstration's new head, PyTorch default initialisation
    for prefix in FROZEN_PREFIX[args.variant]:
        for param in getattr(model, prefix).parameters():
            param.requires_grad = False
    return model


def set_train_mode(model: KerasResNet50, variant: str) -> None:
    model.train()
    for prefix in FROZEN_PREFIX[variant]:
        getattr(model, prefix).eval()  # frozen BN keeps ImageNet running statistics


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> Dict[str, float]:
    """Accuracy, plus forward-only and end-to-end (decode + preprocess + forward) milliseconds per image."""
    model.eval()
    correct = total = 0
    forward_s = 0.0
    start = time.perf_counter()
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            t0 = time.perf_counter()
            logits = model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            forward_s += time.perf_counter() - t0
            correct += int((logits.argmax(1) == y).sum())
            total += int(y.numel())
    wall = time.perf_counter() - start
    return {"accuracy": correct / total, "images": total, "forward_ms_per_image": 1000 * forward_s / total,
            "end_to_end_ms_per_image": 1000 * wall / total}


def train(args: argparse.Namespace) -> Dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    train_set, classes = load_split(args.data, "train", train_transform(), args.limit_per_class)
    val_set, val_classes = load_split(args.data, "val", eval_transform(), args.limit_per_class)
    test_set, test_classes = load_split(args.data, "test", eval_transform(), args.limit_per_class)
    if not classes == val_classes == test_classes:
        sys.exit(f"train/val/test must have the same class folders; received {classes}, {val_classes}, {test_classes}")
    generator = torch.Generator().manual_seed(args.seed)
    loader_opts = {"batch_size": args.batch_size, "num_workers": args.workers,
                   # workers live for the whole run (not respawned each epoch); pinned batches copy to a GPU faster
                   "persistent_workers": args.workers > 0, "pin_memory": device.type == "cuda"}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed 224x224 batches: let cuDNN pick its fastest kernels once
    train_loader = DataLoader(train_set, shuffle=True, generator=generator, **loader_opts)
    val_loader = DataLoader(val_set, shuffle=False, **loader_opts)
    test_loader = DataLoader(test_set, shuffle=False, **loader_opts)

    model = build_model(args, len(classes)).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)
    loss_fn = nn.CrossEntropyLoss()
    budget_s = None if args.max_minutes is None else 60 * args.max_minutes
    print(f"variant {args.variant}: {sum(p.numel() for p in trainable):,} trainable parameters; "
          f"{len(train_set)}/{len(val_set)}/{len(test_set)} train/val/test images; {args.epochs} epochs; "
          f"{args.threads} threads on {device}; {ALLOCATOR}", flush=True)

    history, best = [], {"val_accuracy": -1.0, "epoch": 0, "state": None}
    stop_reason = None
    train_start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        elapsed = time.perf_counter() - train_start
        if budget_s is not None and history and elapsed + history[-1]["seconds"] > budget_s:
            stop_reason = (f"--max-minutes {args.max_minutes}: stopped before epoch {epoch} of {args.epochs} "
                           f"(another epoch of ~{history[-1]['seconds']:.0f} s would pass the budget)")
            break
        epoch_start = time.perf_counter()
        set_train_mode(model, args.variant)
        loss_sum = correct = seen = 0
        partial = False
        for x, y in train_loader:
            if budget_s is not None and seen and time.perf_counter() - train_start > budget_s:
                partial = True
                break
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * y.numel()
            correct += int((logits.argmax(1) == y).sum())
            seen += int(y.numel())
        scheduler.step()
        train_s = time.perf_counter() - epoch_start
        val = evaluate(model, val_loader, device)
        record = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                  "train_images": seen, "val_accuracy": val["accuracy"], "train_seconds": train_s,
                  "train_ms_per_image": 1000 * train_s / seen, "val_seconds": val["end_to_end_ms_per_image"] *
                  val["images"] / 1000, "seconds": time.perf_counter() - epoch_start, "partial": partial}
        history.append(record)
        print(f"epoch {epoch}/{args.epochs}{' (partial)' if partial else ''}: loss {record['train_loss']:.4f} "
              f"train acc {record['train_accuracy']:.4f} val acc {val['accuracy']:.4f} "
              f"({train_s:.1f} s train, {record['val_seconds']:.1f} s val)", flush=True)
        if val["accuracy"] > best["val_accuracy"]:
            best = {"val_accuracy": val["accuracy"], "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
        if partial:
            stop_reason = (f"--max-minutes {args.max_minutes}: stopped inside epoch {epoch} of {args.epochs} "
                           f"after {seen} of {len(train_set)} training images")
            break
    train_wall = time.perf_counter() - train_start
    if stop_reason:
        print(f"STOPPED EARLY: {stop_reason}; the figures below are NOT the full {args.epochs}-epoch recipe",
              flush=True)

    model.load_state_dict(best["state"])
    test = evaluate(model, test_loader, device)
    print(f"best val acc {best['val_accuracy']:.4f} at epoch {best['epoch']}; test acc {test['accuracy']:.4f}; "
          f"inference {test['forward_ms_per_image']:.1f} ms/image forward, {test['end_to_end_ms_per_image']:.1f} "
          f"ms/image with decode+preprocess; train wall {train_wall:.1f} s", flush=True)
    return {
        "variant": args.variant,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "epochs_requested": args.epochs,
        "epochs_run": len(history),
        "stopped_early": stop_reason is not None,
        "stop_reason": stop_reason,
        "train_wall_seconds": train_wall,  # training plus the per-epoch validation, as the demonstration timed it
        "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"],
        "test_accuracy": test["accuracy"],
        "inference_ms_per_image": test["forward_ms_per_image"],
        "inference_end_to_end_ms_per_image": test["end_to_end_ms_per_image"],
        "inference_batch_size": args.batch_size,
        "images": {"train": len(train_set), "val": len(val_set), "test": len(test_set)},
        "classes": classes,
        "limit_per_class": args.limit_per_class,
        "recipe": {"optimizer": "Adam", "lr": args.lr, "scheduler": f"StepLR(step_size={args.step_size}, "
                   f"gamma={args.gamma})", "batch_size": args.batch_size, "loss": "CrossEntropyLoss",
                   "train_transform": "RandomResizedCrop(224) + RandomHorizontalFlip",
                   "eval_transform": "Resize(256) + CenterCrop(224), PIL bilinear",
                   "normalisation": "Keras caffe (BGR, 0..255, minus [103.939, 116.779, 123.68]) - the weights' own",
                   "frozen_batchnorm": "eval mode (ImageNet running statistics) in frozen parts",
                   "seed": args.seed},
        "history": history,
        "machine": {"device": str(device), "threads": args.threads, "workers": args.workers, "allocator": ALLOCATOR, "cpu_count": os.cpu_count(),
                    "platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_json_atomically(path: str, payload: Dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    summary = train(args)
    if args.json:
        write_json_atomically(args.json, summary)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
