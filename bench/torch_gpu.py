"""PyTorch on a CUDA GPU for irc's `cpu` benchmark workloads (`irc bench cpu --backend cuda`): the same
graphs at the same sizes in f32 (TF32 off, as irc computes f32), eager and torch.compile, median ms.

Usage: python3 bench/torch_gpu.py [IRC_BENCH_OUTPUT]  (bench/gpu_check.sh runs both). With the saved output
of `irc bench`, prints one table with irc's time next to eager and compiled PyTorch.
"""
import json
import sys

import torch
import torch.nn.functional as F

from torch_cpu import Block


def median_ms(fn, runs=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def workloads():
    dev = torch.device("cuda")
    n, m = 4096, 1024
    x, w, b = (torch.randn(*s, device=dev) for s in [(n, n), (n,), (n,)])
    a, bm = torch.randn(m, m, device=dev), torch.randn(m, m, device=dev)
    block, xb = Block(256, 4).to(dev).eval(), torch.randn(4, 256, 256, device=dev)
    return {
        "silu(x*w+b)": (lambda x, w, b: F.silu(x * w + b), (x, w, b)),
        "softmax rows": (lambda x: torch.softmax(x, -1), (x,)),
        "layer_norm rows": (lambda x, w, b: F.layer_norm(x, (n,), w, b), (x, w, b)),
        "matmul": (lambda a, b: a @ b, (a, bm)),
        "gpt-block forward": (block, (xb,)),
    }


def irc_times(path):
    """Workload name -> `time ms` column of a saved `irc bench` table (name in the first 20 characters)."""
    rows = {}
    for line in open(path):
        fields = line[20:].split()
        if len(fields) == 8 and fields[3].replace(".", "", 1).isdigit():
            rows[line[:20].strip()] = float(fields[3])
    return rows


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    eager, compiled = {}, {}
    with torch.no_grad():
        for name, (fn, args) in workloads().items():
            eager[name] = median_ms(lambda: fn(*args))
            opt = torch.compile(fn)
            compiled[name] = median_ms(lambda: opt(*args))
    gpu = torch.cuda.get_device_name()
    print(json.dumps({"torch": torch.__version__, "gpu": gpu, "eager_ms": eager, "compile_ms": compiled}, indent=1))
    if len(sys.argv) > 1:
        irc = irc_times(sys.argv[1])
        print(f"\n{'workload':<20} {'irc ms':>9} {'eager ms':>9} {'compile ms':>10}")
        for name in eager:
            ours = f"{irc[name]:.3f}" if name in irc else "-"
            print(f"{name:<20} {ours:>9} {eager[name]:>9.3f} {compiled[name]:>10.3f}")


if __name__ == "__main__":
    main()
