#!/usr/bin/env python3
"""Classify image files with convd from Python, using the stock KServe v2
client (pip install 'tritonclient[http]'): no convd-specific code.

    python3 client/python/classify.py lenet5 models/lenet5/samples/*.png
    python3 client/python/classify.py --url localhost:8000 -k 3 alexnet photo.jpg

The files go as a BYTES input (convd decodes, resizes and normalises them as
the model's config says); the classification extension returns the top k
"score:index:label" strings per image.
"""
import argparse
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--url", default="localhost:8000", help="convd's HTTP address")
    parser.add_argument("-k", type=int, default=3, help="classes per image")
    args = parser.parse_args()

    client = httpclient.InferenceServerClient(url=args.url)
    try:
        metadata = client.get_model_metadata(args.model)
        blobs = []
        for path in args.images:
            with open(path, "rb") as f:
                blobs.append(f.read())
        images = httpclient.InferInput(metadata["inputs"][0]["name"], [len(blobs)], "BYTES")
        images.set_data_from_numpy(np.array(blobs, dtype=np.object_), binary_data=True)
        output = httpclient.InferRequestedOutput(metadata["outputs"][0]["name"],
                                                 binary_data=True, class_count=args.k)
        result = client.infer(args.model, [images], outputs=[output])
    except (InferenceServerException, OSError) as error:
        sys.exit(f"classify.py: {error}")
    classes = result.as_numpy(metadata["outputs"][0]["name"]).reshape(len(blobs), -1)
    for path, row in zip(args.images, classes):
        print(path)
        for entry in row:
            score, index, *label = entry.decode().split(":", 2)
            print(f"  {float(score):.6f}  {index:>4}  {label[0] if label else ''}")


if __name__ == "__main__":
    main()
