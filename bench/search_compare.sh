#!/usr/bin/env bash
# The figures in docs/SEARCH.md: an `irc search` run on a small config, then vanilla, Primer, Monarch-FFN
# and linear-attention variants of the same model trained at equal steps and at equal wall-clock time.
# Usage: bench/search_compare.sh [STEPS] [BUDGET]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
budget=${2:-12}
cfg=(-c d=64 -c layers=2 -c heads=4)
shape=(--batch 8 --seq 32)
cargo build --release --quiet
irc=target/release/irc
date -u +"%Y-%m-%d %H:%M UTC"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo "== irc search zoo:lm ${cfg[*]} --budget $budget --steps 150 ${shape[*]}"
$irc search zoo:lm "${cfg[@]}" --budget "$budget" --steps 150 "${shape[@]}" --out target/search

declare -A variant=(
    [vanilla]=""
    [primer]="-c attn=dconv -c act=squared_relu"
    [monarch-ffn]="-c mlp=monarch"
    [linear-attn]="-c attn=linear"
)
order=(vanilla primer monarch-ffn linear-attn)
train() { # name steps -> "val_loss seconds"
    local out
    # shellcheck disable=SC2086
    out=$($irc train zoo:lm "${cfg[@]}" ${variant[$1]} --steps "$2" "${shape[@]}" --out "target/compare-$1" 2>/dev/null)
    local val secs
    val=$(sed -n 's/.*val loss \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    secs=$(sed -n 's/.* steps in \([0-9.]*\) s.*/\1/p' <<<"$out")
    echo "$val $secs"
}
echo "== equal steps ($steps each)"
declare -A secs
printf "%-12s %8s %8s\n" variant "val" "seconds"
for v in "${order[@]}"; do
    read -r val s <<<"$(train "$v" "$steps")"
    secs[$v]=$s
    printf "%-12s %8s %8s\n" "$v" "$val" "$s"
done
echo "== equal wall-clock (the vanilla run's ${secs[vanilla]} s; steps scaled by measured speed)"
printf "%-12s %6s %8s %8s\n" variant steps "val" "seconds"
for v in "${order[@]}"; do
    n=$(python3 -c "print(max(1, int($steps * ${secs[vanilla]} / ${secs[$v]})))")
    read -r val s <<<"$(train "$v" "$n")"
    printf "%-12s %6s %8s %8s\n" "$v" "$n" "$val" "$s"
done
