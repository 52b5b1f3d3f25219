"""PyTorch eager on the CPU for irc's `cpu` benchmark suite: the same workloads, median wall-clock ms.

Run next to `irc bench cpu` in one session (bench/compare_cpu.sh does both) so the two tables share a
machine and a moment. Threads default to the machine's cores; set TORCH_THREADS to change it.
"""
import json
import math
import os
import time

import torch
import torch.nn.functional as F


def median_ms(fn, runs=10, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1e3 * times[len(times) // 2]


class Block(torch.nn.Module):
    """Pre-norm decoder block: x + attn(ln(x)); x + mlp(ln(x)), GELU (tanh form) as irc's default."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.up, self.down = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.ln1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))


def main():
    threads = int(os.environ.get("TORCH_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, m = 4096, 1024
    x, w, b = torch.randn(n, n), torch.randn(n), torch.randn(n)
    a, bm = torch.randn(m, m), torch.randn(m, m)
    block, xb = Block(256, 4).eval(), torch.randn(4, 256, 256)
    with torch.no_grad():
        rows = {
            "silu(x*w+b)": median_ms(lambda: F.silu(x * w + b)),
            "softmax rows": median_ms(lambda: torch.softmax(x, -1)),
            "layer_norm rows": median_ms(lambda: F.layer_norm(x, (n,), w, b)),
            "matmul": median_ms(lambda: a @ bm),
            "gpt-block forward": median_ms(lambda: block(xb)),
        }
    print(json.dumps({"torch": torch.__version__, "threads": threads, "eager_ms": rows}, indent=1))


if __name__ == "__main__":
    main()
