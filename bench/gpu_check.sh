#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU (driver 580 / CUDA 13.0 or newer) from a release
# binary built elsewhere (no Rust needed there; see docs/CUDA.md):
#   1. `irc selftest --backend cuda`: the differential suite against the reference interpreter;
#   2. the same under compute-sanitizer (memcheck, --quick; racecheck on the shared-memory patterns), if
#      compute-sanitizer is on PATH;
#   3. a 1,000-step `irc train` on cuda, sampling the GPU's used memory with nvidia-smi every second: the
#      check fails if the second half of the run peaks more than 16 MiB above the first half (one step
#      of gpt-tiny uploads its params and optimizer state, so a per-step leak would grow by far more);
#   4. `irc bench cpu --backend cuda` next to PyTorch eager and torch.compile (bench/torch_gpu.py), if
#      python3 can import torch.
# Usage: bench/gpu_check.sh [IRC_BINARY] [OUT_DIR]   (defaults: target/release/irc, gpu-check-<time>)
# Everything is logged under OUT_DIR; the exit status is the number of failed steps.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
irc=${1:-target/release/irc}
out=${2:-gpu-check-$(date -u +%Y%m%dT%H%MZ)}
mkdir -p "$out"
failed=0
summary=()

note() { echo "== $*" | tee -a "$out/summary.txt"; }
result() { # NAME STATUS
    if [ "$2" -eq 0 ]; then summary+=("PASS $1"); else summary+=("FAIL $1 (exit $2)"); failed=$((failed + 1)); fi
}

note "$(date -u +'%Y-%m-%d %H:%M UTC'); $(uptime)"
"$irc" --version | tee -a "$out/summary.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/summary.txt"

note "1. selftest --backend cuda"
"$irc" selftest --backend cuda --save-failures "$out/failures" > "$out/selftest.txt" 2>&1
rc=$?
tail -n 1 "$out/selftest.txt"
grep '^FAIL' "$out/selftest.txt" | head -n 20
result "selftest" $rc

if command -v compute-sanitizer > /dev/null; then
    note "2. compute-sanitizer memcheck: selftest --backend cuda --quick"
    compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
        "$irc" selftest --backend cuda --quick --failures-only > "$out/memcheck.txt" 2>&1
    rc=$?
    grep -E 'ERROR SUMMARY|^selftest on' "$out/memcheck.txt"
    result "memcheck" $rc
    note "2b. compute-sanitizer racecheck: shared-memory kernels (patterns, quick)"
    compute-sanitizer --tool racecheck --error-exitcode 99 --print-limit 20 \
        "$irc" selftest --backend cuda --quick --failures-only --filter patterns/ > "$out/racecheck.txt" 2>&1
    rc=$?
    grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|^selftest on' "$out/racecheck.txt"
    result "racecheck" $rc
else
    note "2. compute-sanitizer not on PATH: skipped"
    summary+=("SKIP compute-sanitizer (not installed)")
fi

note "3. irc train zoo:gpt-tiny --backend cuda --steps 1000, device memory every second"
"$irc" train zoo:gpt-tiny --backend cuda --steps 1000 --out "$out/train" > "$out/train.txt" 2>&1 &
pid=$!
: > "$out/memory.csv"
while kill -0 "$pid" 2> /dev/null; do
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 >> "$out/memory.csv"
    sleep 1
done
wait "$pid"
rc=$?
tail -n 3 "$out/train.txt"
result "train 1000 steps" $rc
# Flat: the second half of the samples stays within 16 MiB (allocator granularity) of the first half's
# peak (the first sample, before the context exists, is left out).
python3 - "$out/memory.csv" << 'PY'
import sys
mib = [int(l) for l in open(sys.argv[1]) if l.strip().isdigit()][1:]
if len(mib) < 4:
    print(f"too few memory samples ({len(mib)}) to judge"); sys.exit(1)
half = len(mib) // 2
first, second = max(mib[:half]), max(mib[half:])
print(f"device memory used (MiB): {len(mib)} samples, start {mib[0]}, first-half peak {first}, "
      f"second-half peak {second}, end {mib[-1]}")
sys.exit(0 if second <= first + 16 else 1)
PY
result "device memory flat over 1000 steps" $?

note "4. irc bench cpu --backend cuda, next to PyTorch"
"$irc" bench cpu --backend cuda > "$out/bench.txt" 2>&1
rc=$?
cat "$out/bench.txt"
result "bench" $rc
if python3 -c 'import torch; assert torch.cuda.is_available()' 2> /dev/null; then
    python3 "$here/torch_gpu.py" "$out/bench.txt" 2>&1 | tee "$out/torch.txt"
    result "torch comparison" "${PIPESTATUS[0]}"
else
    summary+=("SKIP torch comparison (no torch with CUDA)")
fi

note "summary (logs in $out)"
printf '%s\n' "${summary[@]}" | tee -a "$out/summary.txt"
exit "$failed"
