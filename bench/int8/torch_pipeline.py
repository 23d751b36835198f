"""The PyTorch CPU pipeline a user would pick instead of convfeat extract: torchvision ImageFolder (PIL decode,
Resize(256), CenterCrop(224), ToTensor, Normalize) + DataLoader + torchvision resnet50 with its fc removed, under
torch.inference_mode, with the same intra-op threads and batch size as the convfeat runs.

The weights are randomly initialised: ImageNet weights cannot be downloaded on these machines, and the time of a
forward pass does not depend on the values of the weights (dense fp32 kernels, no sparsity shortcuts).

Driven by bench/int8/pipeline.ts over stdin so that its rounds interleave with the convfeat ones: the parent writes
one line per round ("run"), this process answers one JSON line with wall seconds and CPU seconds (this process plus
the DataLoader worker processes, which are joined at the end of each pass), and "quit" ends it.

  /usr/bin/python3 bench/int8/torch_pipeline.py ROOT --threads 2 --batch 8 --workers 1
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

if os.environ.get("TORCHVISION_WITHOUT_OPS"):
    # torchvision wheels built for CUDA torch fail to register their C++ ops (nms, roi_align) under the CPU-only
    # torch wheel; this pipeline uses none of them (models and transforms are Python), so skip the registration.
    torch.library.register_fake = lambda *args, **kwargs: (lambda fn: fn)
import torchvision  # noqa: E402
from torchvision import transforms  # noqa: E402


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", help="an ImageFolder root (class folders of photos)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tf = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    data = torchvision.datasets.ImageFolder(args.root, transform=tf)
    model = torchvision.models.resnet50()  # random weights: see the module docstring
    model.fc = torch.nn.Identity()
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(args.batch, 3, 224, 224))  # first call allocates, as the convfeat runs' warm-up does
    print(json.dumps({"ready": True, "photos": len(data), "torch": torch.__version__,
                      "torchvision": torchvision.__version__}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        loader = torch.utils.data.DataLoader(data, batch_size=args.batch, num_workers=args.workers, shuffle=False)
        c0, t0 = cpu_seconds(), time.perf_counter()
        rows = 0
        with torch.inference_mode():
            for x, _ in loader:
                rows += model(x).shape[0]
        del loader
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "cpuSeconds": cpu_seconds() - c0, "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
