#!/usr/bin/env python3
"""sha256 of torchvision's uint8 Resize(256) + CenterCrop(224) output for every photo under DATA_ROOT, as JSON
{relative path: hex digest}, for the dataset-wide parity check in bench/preprocess/parity-all.ts.

Usage: python3 bench/preprocess/torchvision_hashes.py DATA_ROOT OUT.json
"""
import hashlib
import json
import os
import sys

import numpy as np
from PIL import Image
from torchvision import transforms as T


def main():
    root, out = sys.argv[1], sys.argv[2]
    transform = T.Compose([T.Resize(256), T.CenterCrop(224)])
    digests = {}
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if not name.lower().endswith(('.jpg', '.jpeg', '.png')):
                continue
            full = os.path.join(dirpath, name)
            arr = np.ascontiguousarray(np.asarray(transform(Image.open(full).convert('RGB')), dtype=np.uint8))
            digests[os.path.relpath(full, root)] = hashlib.sha256(arr.tobytes()).hexdigest()
    with open(out, 'w') as f:
        json.dump(digests, f, indent=0, sort_keys=True)
    print(f'{len(digests)} images')


if __name__ == '__main__':
    main()
