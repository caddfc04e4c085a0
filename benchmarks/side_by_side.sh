#!/usr/bin/env bash
# Times spikegrad and the Python peers (PyTorch reference, snnTorch, Norse, SpikingJelly) on the
# same workloads, back to back on one machine, and prints one JSON object per line.
#
#   benchmarks/side_by_side.sh [PEERS_DIR] > results.jsonl
#   benchmarks/summarize.py results.jsonl      # the tables, with ratios
#
# PEERS_DIR holds the peers' harness (`setup.sh`, `peers.py`); by default the `shared/bench/peers`
# folder beside the repository. Set STEPS to change the number of timed steps (default 10), and
# STEPS_4096 for on-lif at n = 4096 (default 3: the slowest peers need ~30 s per step there).
#
# On a shared machine the speed of the host drifts by up to 2× from one minute to the next, so
# one pass can land a workload in a slow minute for one side only. ROUNDS (default 3) alternating
# head-to-head rounds follow the full pass, each preceded by a line {"head_to_head_round": k}:
# shd-rsnn against the three peers that implement it, and on-lif n = 4096 against SpikingJelly
# (the closest there). The summary reports each round's ratios and their median.
# shd-rsnn also runs at B = 32 (three times the steps), with two threads and with one.
# SHD_ONLY=1 runs the shd-rsnn pass and rounds only.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${1:-../shared/bench/peers}
steps=${STEPS:-10}
steps_4096=${STEPS_4096:-3}
rounds=${ROUNDS:-3}
py=$("$peers/setup.sh")
cargo build --release --quiet
bin=target/release/spikegrad

for threads in 2 1; do
  "$bin" bench --workload shd-rsnn --steps "$steps" --threads "$threads"
  "$bin" bench --workload shd-rsnn --batch 32 --steps "$((3 * steps))" --threads "$threads"
done
"$py" "$peers/peers.py" --workload shd-rsnn --steps "$steps"
shd_only=${SHD_ONLY:-0}
if [ "$shd_only" != 1 ]; then
  for n in 1024 4096; do
    n_steps=$steps
    [ "$n" = 4096 ] && n_steps=$steps_4096
    "$bin" bench --workload on-lif --n "$n" --steps "$n_steps"
    "$py" "$peers/peers.py" --workload on-lif --n "$n" --steps "$n_steps"
  done
  "$bin" bench --workload long --steps 3
  "$bin" bench --workload infer --steps "$steps"
fi
for round in $(seq 1 "$rounds"); do
  echo "{\"head_to_head_round\": $round}"
  "$bin" bench --workload shd-rsnn --steps "$steps"
  for impl in torch-ref snntorch norse; do
    "$py" "$peers/peers.py" --workload shd-rsnn --steps "$steps" --impl "$impl"
  done
  [ "$shd_only" = 1 ] && continue
  "$bin" bench --workload on-lif --n 4096 --steps "$steps_4096"
  "$py" "$peers/peers.py" --workload on-lif --n 4096 --steps "$steps_4096" --impl spikingjelly
done
