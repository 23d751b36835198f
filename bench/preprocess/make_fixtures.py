#!/usr/bin/env python3
"""Reference digests of torchvision's ImageNet preprocessing on real photos, for convfeat's parity tests
(test/preprocess/parity.test.ts).

Writes test/fixtures/preprocess/fixtures.json: the photo list (paths relative to the data root, source sizes) and,
per photo, sha256 digests of torchvision's outputs (equal digest <=> byte-identical output):
  cropSha256     uint8 224x224x3: Resize(256) + CenterCrop(224) of Image.open(p).convert('RGB')
  tensorSha256   float32 1x3x224x224: the same followed by ToTensor + Normalize(ImageNet mean/std)
  cases          more cases, each {shape, sha256} of a uint8 HxWx3 output: nearest resampling, resize without crop,
                 exact-size resize, and a crop larger than the image (zero padding)

Needs torchvision, Pillow and NumPy (Debian: apt-get install python3-torchvision python3-pil python3-numpy).
Usage: python3 bench/preprocess/make_fixtures.py [DATA_ROOT] [--out FILE]
DATA_ROOT defaults to $CONVFEAT_DATA, then ../shared/data/mini_natural_images beside the checkout; FILE defaults to
test/fixtures/preprocess/fixtures.json (write elsewhere and diff to check the committed file).
"""
import argparse
import hashlib
import json
import os

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(REPO, 'test', 'fixtures', 'preprocess', 'fixtures.json')

# Chosen to cover the geometry seen in Mini Natural Images: 100x100 upscaled (cars, fruit), 256x256 (most people),
# a very wide small airplane (huge upscale on one axis), the smallest photo, a large downscaled one, a portrait.
PHOTOS = [
    ('car', 'train/car/car_0000.jpg'),
    ('fruit', 'train/fruit/fruit_0000.jpg'),
    ('person', 'train/person/person_0000.jpg'),
    ('airplane_wide', 'test/airplane/airplane_0663.jpg'),
    ('dog_small', 'test/dog/dog_0520.jpg'),
    ('flower_large', 'val/flower/flower_0605.jpg'),
    ('cat_portrait', 'train/cat/cat_0000.jpg'),
]
# Named in the listing: the photo whose float tensor was once committed as .npy (every photo's tensor is digested).
FLOAT_PHOTO = 'car'

NORMALIZE = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


def to_uint8(img):
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def sha(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def tensor(img):
    return NORMALIZE(T.ToTensor()(img)).unsqueeze(0).numpy().astype(np.float32)


def main():
    default_root = os.environ.get('CONVFEAT_DATA') or os.path.join(REPO, '..', 'shared', 'data', 'mini_natural_images')
    parser = argparse.ArgumentParser(description='Write the torchvision parity digests (fixtures.json).')
    parser.add_argument('data_root', nargs='?', default=default_root)
    parser.add_argument('--out', default=FIXTURES)
    args = parser.parse_args()

    base = T.Compose([T.Resize(256), T.CenterCrop(224)])
    cases = {
        # name: (description for the test, transform)
        'nearest': ('Resize(256, NEAREST) + CenterCrop(224)',
                    T.Compose([T.Resize(256, interpolation=T.InterpolationMode.NEAREST), T.CenterCrop(224)])),
        'resize_only': ('Resize(256)', T.Resize(256)),
        'exact': ('Resize((150, 333))', T.Resize((150, 333))),
        'pad': ('Resize(64) + CenterCrop((80, 50))', T.Compose([T.Resize(64), T.CenterCrop((80, 50))])),
    }
    photos = []
    for name, rel in PHOTOS:
        img = Image.open(os.path.join(args.data_root, rel)).convert('RGB')
        cropped = base(img)
        arr = to_uint8(cropped)
        assert arr.shape == (224, 224, 3), arr.shape
        extra = {}
        for case, (_, transform) in cases.items():
            out = to_uint8(transform(img))
            extra[case] = {'shape': list(out.shape), 'sha256': sha(out)}
        # Key order as in the committed file, so a regenerated file diffs clean.
        photos.append({
            'name': name,
            'path': rel,
            'width': img.width,
            'height': img.height,
            'tensorSha256': sha(tensor(cropped)),
            'cases': extra,
            'cropSha256': sha(arr),
        })
        print(f'{name:14s} {img.width}x{img.height}')
    listing = {
        'generator': f'torchvision {torchvision.__version__}, torch {torch.__version__}, Pillow {PIL.__version__}',
        'dataRoot': 'mini_natural_images',
        'transform': 'Resize(256) + CenterCrop(224) on Image.open(p).convert("RGB"), uint8 HxWx3',
        'tensor': 'ToTensor() + Normalize(ImageNet mean/std), float32 1x3x224x224',
        'floatPhoto': FLOAT_PHOTO,
        'cases': {case: desc for case, (desc, _) in cases.items()},
        'photos': photos,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(listing, f, indent=2)
        f.write('\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
