#!/usr/bin/env python3
"""End to end on the GPU: convd's engine (tools/convrun --device cuda
--throughput) against PyTorch with cuDNN in FP32 on the same networks, batch
sizes 1..256, in one run on one machine.

Both sides time a whole forward pass from host memory to host memory: the
input is copied in, the network runs, the output comes back, and the host
waits for it (median wall-clock of --runs passes after warm-ups). On the GPU
both inputs start in page-locked host memory: PyTorch's pin_memory() tensor,
and convd's executor staging buffer, where the server gathers a batch's
requests (before 2026-12-06 convrun's input was copied there from pageable
memory in each pass, a host copy PyTorch's side did not make). PyTorch:
eager mode, cudnn.benchmark on (cudnnFind per shape), TF32 off for both
convolutions and matrix products; weights are random (speed only), the
networks are torchvision's AlexNet + softmax (= models/alexnet) and
tools/train_lenet5.py's LeNet5 (= models/lenet5). convd: its own kernels,
CUDA graph replay, and its GPU algorithms autotuned at each batch size (as
cudnn.benchmark tunes PyTorch's; --algo auto for the heuristic's).

    python3 bench/e2e_vs_pytorch.py --convrun .carry/bin/convrun [--batches 1,8,64]
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lenet5():
    spec = importlib.util.spec_from_file_location(
        "train_lenet5", os.path.join(ROOT, "tools", "train_lenet5.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LeNet5()


class AlexNet(nn.Module):
    """torchvision's AlexNet (models/alexnet/1/network.pbtxt) with its softmax;
    the adaptive average pooling is the identity on its 6x6 maps."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, 1000))

    def forward(self, x):
        return F.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


NETWORKS = {
    "lenet5": (lenet5, (1, 28, 28)),
    "alexnet": (AlexNet, (3, 224, 224)),
}


def torch_median_ms(model, shape, batch, runs, device):
    host = torch.rand((batch,) + shape)
    if device == "cuda":
        host = host.pin_memory()
    with torch.inference_mode():
        for _ in range(3):  # warm-up: cudnnFind for this shape, allocator
            model(host.to(device, non_blocking=True)).cpu()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model(host.to(device, non_blocking=True)).cpu()  # .cpu() waits for the result
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def convd_median_ms(convrun, model_dir, batch, runs, device, algo):
    out = subprocess.run(
        [convrun, model_dir, "--device", device, "--throughput", "--batch", str(batch),
         "--repeat", str(runs), "--algo", algo],
        capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--convrun", required=True)
    parser.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--networks", default="lenet5,alexnet")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cpu compares the CPU backends the same way")
    parser.add_argument("--algo", default="autotune",
                        help="convrun --algo: autotune (default) or auto (the heuristic)")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count())  # convrun uses every core too
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    where = (torch.cuda.get_device_name() if args.device == "cuda"
             else f"CPU, {torch.get_num_threads()} threads")
    print(f"device: {where}; PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; "
          f"TF32 off; median of {args.runs} passes; convd --algo {args.algo}")
    print("| network | batch | convd ms | convd images/s | PyTorch ms | PyTorch images/s | "
          "convd / PyTorch speed |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for name in args.networks.split(","):
        factory, shape = NETWORKS[name]
        model = factory().to(args.device).eval()
        for batch in [int(b) for b in args.batches.split(",")]:
            try:
                ours = convd_median_ms(args.convrun, os.path.join(ROOT, "models", name), batch,
                                       args.runs, args.device, args.algo)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                print(f"| {name} | {batch} | error: {error} |")
                continue
            theirs = torch_median_ms(model, shape, batch, args.runs, args.device)
            ratios.append(theirs / ours)
            print(f"| {name} | {batch} | {ours:.3f} | {batch * 1e3 / ours:,.0f} | {theirs:.3f} | "
                  f"{batch * 1e3 / theirs:,.0f} | {theirs / ours:.2f}x |", flush=True)
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    if ratios:
        geomean = statistics.geometric_mean(ratios)
        peer = "PyTorch (cuDNN FP32)" if args.device == "cuda" else "PyTorch (CPU)"
        print(f"\ngeomean convd vs {peer}, end to end: {geomean:.3f}x")
    return 0 if ratios else 1


if __name__ == "__main__":
    sys.exit(main())
