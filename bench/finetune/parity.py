"""Check that the PyTorch Keras-ResNet50 computes convfeat's embeddings from the same ONNX weights.

Run convfeat on a folder of photos first, then point this script at that folder and at the export:
    node dist/cli.js extract --model resnet50 --data PHOTOS --cache CACHE --exif ignore
    node dist/cli.js cache export --cache CACHE --out EXPORT
    python3 bench/finetune/parity.py --export EXPORT
Prints max |delta| over all embedding values and each photo's top-1 ImageNet class through fc1000.
Exit 1 when max |delta| exceeds --tolerance.
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts in the repository

import argparse
import json
import os

import numpy as np
import torch
from PIL import Image

from keras_resnet50 import KerasResNet50, load_onnx_weights
from preprocess import eval_transform

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", required=True, help="folder written by `convfeat cache export` (X.npy, paths.txt)")
    parser.add_argument("--onnx", default=os.path.join(REPO, "onnx", "resnet50.onnx"))
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    expected = np.load(os.path.join(args.export, "X.npy"))
    with open(os.path.join(args.export, "paths.txt")) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    if len(paths) != expected.shape[0]:
        print(f"Expected paths.txt to list {expected.shape[0]} files but received {len(paths)}", file=sys.stderr)
        return 2
    with open(os.path.splitext(args.onnx)[0] + ".onnx.json") as f:
        labels = json.load(f)["labels"]

    model = KerasResNet50()
    print("loaded", load_onnx_weights(model, args.onnx))
    model.eval()
    transform = eval_transform()
    batch = torch.stack([transform(Image.open(p)) for p in paths])
    with torch.no_grad():
        embedding = model.features(batch)
        probabilities = torch.softmax(model.fc(embedding), dim=1)
    delta = np.abs(embedding.numpy() - expected)
    print(f"embeddings {tuple(expected.shape)}: max |delta| = {delta.max():.3g}, mean |delta| = {delta.mean():.3g}, "
          f"max |value| = {np.abs(expected).max():.3g}")
    for path, row, p in zip(paths, delta, probabilities):
        top = int(p.argmax())
        print(f"  {os.path.basename(path)}: max |delta| {row.max():.3g}; top-1 {labels[top]} ({float(p[top]):.3f})")
    return 0 if delta.max() <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
