"""Image transforms for the baseline: torchvision geometry with the Keras "caffe" normalisation.

The pretrained weights are Keras ResNet50 v1, trained on BGR 0..255 inputs minus the ImageNet BGR mean. The original
demonstration normalised with torchvision's ImageNet mean/std because its weights were torchvision's; what the recipe
really asks for is "the normalisation the pretrained weights expect", so here that is caffe, exactly as convfeat feeds
the same network. Evaluation geometry (Resize(256) + CenterCrop(224), PIL bilinear) is torchvision's, which convfeat
reproduces byte for byte.
"""
from __future__ import annotations

from torchvision import transforms

from keras_resnet50 import caffe_preprocess


class CaffeNormalize:
    """uint8 RGB CHW tensor -> float BGR minus the Keras ImageNet mean (no std)."""

    def __call__(self, rgb_uint8):
        return caffe_preprocess(rgb_uint8)

    def __repr__(self) -> str:
        return "CaffeNormalize(BGR, 0..255, mean=[103.939, 116.779, 123.68])"


def _to_rgb(image):
    return image.convert("RGB")


def eval_transform() -> transforms.Compose:
    return transforms.Compose([
        transforms.Lambda(_to_rgb),
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(224),
        transforms.PILToTensor(),  # uint8, so no /255 * 255 round trip before the caffe mean subtraction
        CaffeNormalize(),
    ])


def train_transform() -> transforms.Compose:
    return transforms.Compose([
        transforms.Lambda(_to_rgb),
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.PILToTensor(),
        CaffeNormalize(),
    ])
