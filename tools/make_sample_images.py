#!/usr/bin/python3
"""Writes the sample images bundled with the models (models/*/samples/),
which `make smoke` and the README's convctl examples classify.

Both come from Debian's Fashion-MNIST test set (dataset-fashion-mnist):
- lenet5/samples/: test images 0 and 1 as 28x28 greyscale PNGs, named by
  their true class; the trained LeNet-5 classifies both correctly.
- alexnet*/samples/: test images 0-3 tiled 2x2, tinted and scaled up to an
  RGB JPEG of the model's input size. AlexNet ships with seeded random
  weights (no ImageNet weights can be had offline), so its classes mean
  nothing; the sample exercises JPEG decoding, resizing and the forward pass.

Run with Debian's Python (numpy, PIL): /usr/bin/python3 tools/make_sample_images.py
"""
import gzip
import os

import numpy as np
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
          "bag", "ankle-boot"]


def read_idx(name, offset):
    with gzip.open(os.path.join(DATA, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
    images = read_idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = read_idx("t10k-labels-idx1-ubyte.gz", 8)

    lenet = os.path.join(root, "lenet5", "samples")
    os.makedirs(lenet, exist_ok=True)
    for i in (0, 1):
        path = os.path.join(lenet, f"{LABELS[labels[i]]}.png")
        Image.fromarray(images[i], mode="L").save(path, optimize=True)
        print(path)

    tile = np.block([[images[0], images[1]], [images[2], images[3]]]).astype(np.float32) / 255
    tint = np.array([1.0, 0.8, 0.55], dtype=np.float32)
    rgb = (np.stack([tile * t for t in tint], axis=-1) * 255).round().astype(np.uint8)
    for model, size in (("alexnet", 224), ("alexnet_original", 227)):
        folder = os.path.join(root, model, "samples")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "fashion-tiles.jpg")
        Image.fromarray(rgb, mode="RGB").resize((size, size), Image.BILINEAR).save(
            path, quality=90)
        print(path)


if __name__ == "__main__":
    main()
