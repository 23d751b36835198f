"""Keras ResNet50 v1 as a PyTorch module, loaded from convfeat's converted ONNX file.

The fine-tuning baseline must start from exactly the weights convfeat extracts with, so this module reproduces the
Keras architecture (not torchvision's ResNet50, which differs) and copies every tensor from the ONNX initializers:

- stride 2 sits on the first 1x1 convolution of each downsampling block (Caffe/Keras v1), not on the 3x3;
- every convolution has a bias; BatchNormalization epsilon is 1e-3 (Keras), not 1e-5;
- the stem is ZeroPadding(3) + 7x7/2 conv, and ZeroPadding(1) + 3x3/2 max-pool (zeros, not -inf: the pool follows a
  ReLU, so both give the same result, but zeros mirror the graph literally);
- preprocessing is Keras "caffe": BGR, 0..255, minus the ImageNet BGR mean, no division by a std.

Layer names follow Keras (conv1, bn_conv1, res2a_branch2a, bn2a_branch2a, ..., fc1000), which is also how the
converter names the initializers ("<layer>/kernel", "<layer>/bias", "<bn>/gamma", ...). The loader walks the ONNX
graph in node order, checks each Conv's kernel/stride/padding against this module, and fails if any tensor is left
over on either side.

Usage:
    model = KerasResNet50()
    report = load_onnx_weights(model, "onnx/resnet50.onnx")
    embedding = model.features(caffe_preprocess(batch_uint8_rgb))   # (N, 2048)
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import nn

BN_EPSILON = 1e-3
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# (stage, number of blocks, bottleneck filters, stride of the first block): Keras ResNet50 v1.
STAGES: List[Tuple[int, int, Tuple[int, int, int], int]] = [
    (2, 3, (64, 64, 256), 1),
    (3, 4, (128, 128, 512), 2),
    (4, 6, (256, 256, 1024), 2),
    (5, 3, (512, 512, 2048), 2),
]


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int, padding: int) -> Tuple[nn.Conv2d, nn.BatchNorm2d]:
    conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=True)
    # PyTorch's default momentum (0.1) is kept on purpose: the fine-tuning recipe is the PyTorch demonstration's.
    return conv, nn.BatchNorm2d(out_ch, eps=BN_EPSILON)


class Bottleneck(nn.Module):
    """Keras identity_block / conv_block: 1x1 (stride here) -> 3x3 -> 1x1, plus identity or 1x1 projection."""

    def __init__(self, stage: int, block: str, in_ch: int, filters: Tuple[int, int, int], stride: int, project: bool):
        super().__init__()
        f1, f2, f3 = filters
        self.stage, self.block = stage, block
        self.branch2a, self.bn2a = _conv_bn(in_ch, f1, 1, stride, 0)
        self.branch2b, self.bn2b = _conv_bn(f1, f2, 3, 1, 1)
        self.branch2c, self.bn2c = _conv_bn(f2, f3, 1, 1, 0)
        if project:
            self.branch1, self.bn1 = _conv_bn(in_ch, f3, 1, stride, 0)
        else:
            self.branch1, self.bn1 = None, None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn2a(self.branch2a(x)))
        y = self.relu(self.bn2b(self.branch2b(y)))
        y = self.bn2c(self.branch2c(y))
        shortcut = self.bn1(self.branch1(x)) if self.branch1 is not None else x
        return self.relu(y + shortcut)

    def keras_pairs(self) -> List[Tuple[str, nn.Conv2d, str, nn.BatchNorm2d]]:
        tag = f"{self.stage}{self.block}"
        pairs = [
            (f"res{tag}_branch2a", self.branch2a, f"bn{tag}_branch2a", self.bn2a),
            (f"res{tag}_branch2b", self.branch2b, f"bn{tag}_branch2b", self.bn2b),
            (f"res{tag}_branch2c", self.branch2c, f"bn{tag}_branch2c", self.bn2c),
        ]
        if self.branch1 is not None:
            pairs.append((f"res{tag}_branch1", self.branch1, f"bn{tag}_branch1", self.bn1))
        return pairs


class KerasResNet50(nn.Module):
    """Keras ResNet50 v1. forward() returns ImageNet logits (softmax left to the loss); features() the 2048-d
    avg_pool embedding convfeat extracts."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        conv1, bn_conv1 = _conv_bn(3, 64, 7, 2, 0)
        self.stem = nn.Sequential(OrderedDict([
            ("conv1_pad", nn.ZeroPad2d(3)),
            ("conv1", conv1),
            ("bn_conv1", bn_conv1),
            ("relu", nn.ReLU(inplace=True)),
            ("pool1_pad", nn.ZeroPad2d(1)),
            ("pool1", nn.MaxPool2d(3, stride=2)),
        ]))
        in_ch = 64
        for stage, blocks, filters, stride in STAGES:
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(stage, "abcdef"[i], in_ch, filters, stride if i == 0 else 1, project=i == 0))
                in_ch = filters[2]
            setattr(self, f"stage{stage}", nn.Sequential(*layers))
        self.fc = nn.Linear(2048, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stage5(self.stage4(self.stage3(self.stage2(x))))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def keras_pairs(self) -> List[Tuple[str, nn.Conv2d, str, nn.BatchNorm2d]]:
        pairs = [("conv1", self.stem.conv1, "bn_conv1", self.stem.bn_conv1)]
        for stage, *_ in STAGES:
            for block in getattr(self, f"stage{stage}"):
                pairs.extend(block.keras_pairs())
        return pairs


def caffe_preprocess(rgb_uint8: torch.Tensor) -> torch.Tensor:
    """(N|-, 3, H, W) RGB values 0..255 (uint8 or float) -> Keras caffe input: BGR, minus mean, no std."""
    x = rgb_uint8.float().flip(-3)
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float32).view(3, 1, 1)
    return x - mean


def _import_onnx():
    try:
        import onnx  # noqa: F401
        from onnx import numpy_helper
    except ImportError:
        sys.exit("Reading the ONNX weights needs the onnx Python package: apt-get install python3-onnx")
    if not hasattr(onnx, "load"):
        # The repository's own onnx/ folder shadows the package when Python runs with the repo root as cwd/path.
        sys.exit("The onnx package is shadowed by a folder named onnx/ on sys.path; run the script by its path "
                 "(python3 bench/finetune/...), not with -m from the repository root")
    return onnx, numpy_helper


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return list(a.ints) if a.ints else a.i
    return default


def load_onnx_weights(model: KerasResNet50, onnx_path: str) -> Dict[str, int]:
    """Copy every weight of convfeat's converted ResNet50 into `model`. Returns counts for the caller to print."""
    onnx, numpy_helper = _import_onnx()
    graph = onnx.load(onnx_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    used = set()

    def take(name: str, shape: Tuple[int, ...]) -> torch.Tensor:
        if name not in inits:
            raise ValueError(f"{onnx_path} has no initializer {name!r}; is it convfeat's Keras ResNet50 conversion?")
        array = inits[name]
        if tuple(array.shape) != tuple(shape):
            raise ValueError(f"Expected {name} to have shape {tuple(shape)} but received {tuple(array.shape)}")
        used.add(name)
        return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))  # ONNX arrays are read-only

    pairs = model.keras_pairs()
    conv_nodes = [n for n in graph.node if n.op_type == "Conv"]
    if [n.name for n in conv_nodes] != [p[0] for p in pairs]:
        raise ValueError("The ONNX Conv nodes do not follow Keras ResNet50 v1's order and names")
    bn_nodes = {n.name: n for n in graph.node if n.op_type == "BatchNormalization"}

    with torch.no_grad():
        for node, (conv_name, conv, bn_name, bn) in zip(conv_nodes, pairs):
            # The graph's geometry must be the module's, or identical weights would still compute something else.
            kernel = _attr(node, "kernel_shape", None)
            strides = _attr(node, "strides", [1, 1])
            pads = _attr(node, "pads", [0, 0, 0, 0])
            expected = (list(conv.kernel_size), list(conv.stride), [conv.padding[0]] * 2 + [conv.padding[1]] * 2)
            if (kernel, strides, pads) != expected:
                raise ValueError(f"Conv {conv_name}: graph has kernel/stride/pads {kernel}/{strides}/{pads}, "
                                 f"module has {expected}")
            conv.weight.copy_(take(node.input[1], conv.weight.shape))
            conv.bias.copy_(take(node.input[2], conv.bias.shape))
            bn_node = bn_nodes.get(bn_name)
            if bn_node is None:
                raise ValueError(f"The ONNX graph has no BatchNormalization node {bn_name!r}")
            eps = next((a.f for a in bn_node.attribute if a.name == "epsilon"), 1e-5)
            if abs(eps - bn.eps) > 1e-9:
                raise ValueError(f"{bn_name}: graph epsilon {eps} differs from the module's {bn.eps}")
            gamma, beta, mean, var = bn_node.input[1:5]
            bn.weight.copy_(take(gamma, bn.weight.shape))
            bn.bias.copy_(take(beta, bn.bias.shape))
            bn.running_mean.copy_(take(mean, bn.running_mean.shape))
            bn.running_var.copy_(take(var, bn.running_var.shape))

        gemm = [n for n in graph.node if n.op_type == "Gemm"]
        if len(gemm) != 1:
            raise ValueError(f"Expected the ONNX graph to have 1 Gemm (fc1000) but received {len(gemm)}")
        w_name, b_name = gemm[0].input[1], gemm[0].input[2]
        # Keras Dense stores (in, out); Gemm with transB=1 stores (out, in) like nn.Linear.
        if _attr(gemm[0], "transB", 0) == 1:
            model.fc.weight.copy_(take(w_name, model.fc.weight.shape))
        else:
            model.fc.weight.copy_(take(w_name, model.fc.weight.shape[::-1]).t())
        model.fc.bias.copy_(take(b_name, model.fc.bias.shape))

    # Pads of the Pad nodes are int64 initializers, not weights; everything else must have been consumed.
    leftover = [n for n, a in inits.items() if n not in used and a.dtype == np.float32]
    if leftover:
        raise ValueError(f"ONNX weights not loaded into the module: {leftover[:5]}")
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return {"tensors": len(used), "parameters": params, "bn_statistics": buffers,
            "values": sum(inits[n].size for n in used)}
