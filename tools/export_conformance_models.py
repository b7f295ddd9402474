#!/usr/bin/python3
"""Exports small PyTorch networks to ONNX as conformance cases for convd.

ONNX's own node tests (libonnx-testdata) are one operator each with every
operand a graph input; these cases are whole networks as PyTorch exports
them, so the importer's folding (BatchNorm, scale Mul, Pad, Dropout,
Identity), concatenation, residual adds, ReLU6 as Clip, 1-D windows and the
softmax axis rules are checked against PyTorch. Each case is written in the
ONNX test layout that tests/conformance/onnx_node_test.cc reads:

  tests/conformance/pytorch/<case>/model.onnx
  tests/conformance/pytorch/<case>/test_data_set_0/input_0.pb   random input
  tests/conformance/pytorch/<case>/test_data_set_0/output_0.pb  PyTorch's output

computed in float64 by PyTorch (the exported weights are float32 values, so
the float64 output is the exact reference for them).

    /usr/bin/python3 tools/export_conformance_models.py [--out tests/conformance/pytorch]

Uses Debian's python3-torch and python3-onnx. A tool: its outputs are
committed and the test does not run it.
"""
import argparse
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F


class Branches(nn.Module):
    """Inception-style branches, BatchNorm, ReLU6, a residual block."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=(1, 2))
        self.stem_bn = nn.BatchNorm2d(8)
        self.branch1 = nn.Conv2d(8, 6, 1)
        self.branch3 = nn.Conv2d(8, 10, 3, padding=1, bias=False)
        self.branch3_bn = nn.BatchNorm2d(10)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.res1 = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.res2 = nn.Conv2d(16, 16, 3, padding=2, dilation=2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(16, 7)

    def forward(self, x):
        x = F.relu6(self.stem_bn(self.stem(x)))
        x = torch.cat([F.relu(self.branch1(x)),
                       F.leaky_relu(self.branch3_bn(self.branch3(x)), 0.1)], dim=1)
        x = self.pool(x)
        x = F.relu(x + self.res2(torch.tanh(self.res1(x))))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.log_softmax(self.fc(self.drop(x)), dim=1)


class Sequence1d(nn.Module):
    """1-D convolutions and pools over [N, C, L]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 6, 5, padding=2)
        self.conv2 = nn.Conv1d(6, 8, 3, stride=2, dilation=2)
        self.fc = nn.Linear(8 * 2, 5)

    def forward(self, x):
        x = F.max_pool1d(torch.sigmoid(self.conv1(x)), 2)
        x = F.avg_pool1d(F.relu(self.conv2(x)), 2, ceil_mode=True, count_include_pad=False)
        return F.softmax(self.fc(x.reshape(x.shape[0], -1)), dim=1)


class SegmentationHead(nn.Module):
    """Softmax over the channels at every position (opset 13's axis 1)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 6, 3)
        self.conv2 = nn.Conv2d(6, 4, 1)

    def forward(self, x):
        x = F.avg_pool2d(torch.clamp(self.conv1(x), -0.5, 0.5), 2, stride=1, padding=1,
                         count_include_pad=True)
        return F.softmax(self.conv2(x) * 2.0, dim=1)


class Padded(nn.Module):
    """An explicit asymmetric Pad folded into the next Conv and pool, at the
    oldest opset convd reads."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 5, stride=2)
        self.fc = nn.Linear(12 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.conv(F.pad(x, (1, 2, 2, 1))))
        x = F.max_pool2d(F.pad(x, (0, 1, 1, 0)), 3, stride=2)
        return F.softmax(self.fc(torch.flatten(x, 1)), dim=1)


# name -> (module, input shape, opset)
CASES = {
    "branches_opset13": (Branches, (2, 3, 17, 15), 13),
    "branches_opset9": (Branches, (2, 3, 17, 15), 9),
    "sequence1d_opset11": (Sequence1d, (3, 4, 23), 11),
    "segmentation_head_opset13": (SegmentationHead, (2, 2, 9, 11), 13),
    "padded_opset7": (Padded, (2, 3, 19, 19), 7),
}


def randomize_batch_norm(module, generator):
    # Fresh BatchNorm layers are identities; give them real statistics.
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=generator)
            m.running_var.uniform_(0.5, 2.0, generator=generator)
            m.weight.data.uniform_(0.5, 1.5, generator=generator)
            m.bias.data.uniform_(-0.5, 0.5, generator=generator)


def export(name, module_class, shape, opset, out_dir, seed):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = module_class()
    randomize_batch_norm(module, generator)
    module.eval()
    case_dir = os.path.join(out_dir, name)
    os.makedirs(os.path.join(case_dir, "test_data_set_0"), exist_ok=True)
    x = torch.rand(shape, generator=generator) * 4 - 2
    path = os.path.join(case_dir, "model.onnx")
    torch.onnx.export(module, x, path, opset_version=opset, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        expected = module.double()(x.double()).numpy()
    data = os.path.join(case_dir, "test_data_set_0")
    for file_name, array, tensor_name in (("input_0.pb", x.numpy(), "input"),
                                          ("output_0.pb", expected.astype(np.float32), "output")):
        tensor = onnx.numpy_helper.from_array(array, tensor_name)
        with open(os.path.join(data, file_name), "wb") as f:
            f.write(tensor.SerializeToString())
    ops = sorted({node.op_type for node in onnx.load(path).graph.node})
    print(f"{name}: opset {opset}, input {list(shape)}, ops {', '.join(ops)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/conformance/pytorch")
    args = parser.parse_args()
    for seed, (name, (module_class, shape, opset)) in enumerate(sorted(CASES.items())):
        export(name, module_class, shape, opset, args.out, seed + 1)


if __name__ == "__main__":
    main()
