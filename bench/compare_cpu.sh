#!/usr/bin/env bash
# irc's CPU suite next to PyTorch eager, in one session on one machine: the figures in docs/PERF.md.
# Needs `pip install torch`. Usage: bench/compare_cpu.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cargo build --release --quiet
date -u +"%Y-%m-%d %H:%M UTC"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
target/release/irc bench cpu --runs "$runs"
python3 bench/torch_cpu.py
