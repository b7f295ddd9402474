#!/usr/bin/python3
"""Trains LeNet-5 on Fashion-MNIST and writes it into models/lenet5.

Uses Debian's packages only: python3-torch, python3-onnx, python3-numpy and
the dataset-fashion-mnist IDX files. Writes, for version 1 of the model:
  1/weights.safetensors  the trained parameters, named as network.pbtxt's
                         layers (conv1.weight, ...), served by convd today
  1/model.onnx           the same network exported from PyTorch (opset 13,
                         dynamic batch), for the ONNX importer
  1/fashion_mnist_test_predictions.txt
                         PyTorch's class for each of the 10,000 test images
Inputs are pixels / 255 (the config's default UINT8 normalisation).

    /usr/bin/python3 tools/train_lenet5.py [--epochs 20] [--out models/lenet5/1]

A tool, not a test dependency: its outputs are committed.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:  # images: count x rows x cols uint8
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)
    if magic == 0x801:  # labels
        return np.frombuffer(data, np.uint8, offset=8)
    raise ValueError(f"{name}: unknown IDX magic {magic:#x}")


class LeNet5(nn.Module):
    """The network of models/lenet5/1/network.pbtxt, with the same layer names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=1)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="models/lenet5/1")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)

    train_x = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255)
    train_y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    test_x = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    test_y = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

    model = LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = args.epochs * ((len(train_x) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for start in range(0, len(order), 128):
            index = order[start:start + 128]
            images = train_x[index]
            flip = torch.rand(len(index)) < 0.5  # garments are left-right symmetric
            images = torch.where(flip[:, None, None, None], images.flip(3), images)
            loss = F.cross_entropy(model.logits(images), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {accuracy:.4f}", flush=True)

    model.eval()
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "weights.safetensors"), model.state_dict())
    with torch.no_grad():
        predictions = model(test_x).argmax(1).numpy()
    with open(os.path.join(args.out, "fashion_mnist_test_predictions.txt"), "w") as f:
        f.write("\n".join(str(int(p)) for p in predictions) + "\n")
    torch.onnx.export(model, test_x[:1], os.path.join(args.out, "model.onnx"),
                      input_names=["input"], output_names=["prob"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"}, "prob": {0: "batch"}})
    print(f"final test accuracy {(predictions == test_y.numpy()).mean():.4f}; wrote {args.out}")


if __name__ == "__main__":
    main()
