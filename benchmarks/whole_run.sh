#!/usr/bin/env bash
# A whole training run of spikegrad and of the PyTorch reference RSNN (the peers' harness
# `rsnn_reference.py`) on the same SHD-layout files at equal settings
# (configs/digits_reference.toml is the reference's model and training, setting for setting),
# back to back, in alternating rounds. Prints JSON lines: each side's test accuracy over time
# (every epoch for spikegrad, which validates on the test file; every 10 epochs for the
# reference) and its final line; benchmarks/whole_run.py turns them into the table.
#
#   benchmarks/whole_run.sh [TRAIN.h5 TEST.h5] > whole_run.jsonl
#   benchmarks/whole_run.py whole_run.jsonl
#
# Default files: the synthetic spoken digits of scripts/synthetic_digits.sh
# (data/synthetic_digits/{train,test}.h5). EPOCHS (default 100), ROUNDS (default 1), THREADS
# (default 2) and PEERS_DIR (default ../shared/bench/peers) change the run.
set -euo pipefail
cd "$(dirname "$0")/.."
train=${1:-data/synthetic_digits/train.h5}
test=${2:-data/synthetic_digits/test.h5}
epochs=${EPOCHS:-100}
rounds=${ROUNDS:-1}
threads=${THREADS:-2}
peers=${PEERS_DIR:-../shared/bench/peers}
for f in "$train" "$test"; do
  [[ -f $f ]] || { echo "error: $f not found (make it with scripts/synthetic_digits.sh)" >&2; exit 1; }
done
py=$("$peers/setup.sh")
cargo build --release --quiet
bin=$PWD/target/release/spikegrad
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for round in $(seq 1 "$rounds"); do
  echo "{\"whole_run_round\": $round}"
  start=$(date +%s.%N)
  RAYON_NUM_THREADS=$threads "$bin" train --config configs/digits_reference.toml --force \
    --set "data.source.train=\"$train\"" --set "data.source.valid=\"$test\"" \
    --set "data.source.test=\"$test\"" --set "training.epochs=$epochs" \
    --out "$out/run" > /dev/null
  end=$(date +%s.%N)
  python3 - "$out/run" "$start" "$end" <<'PY'
import json, sys
run, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
elapsed = 0.0
with open(f"{run}/metrics.jsonl") as f:
    for line in f:
        r = json.loads(line)
        elapsed += r["seconds"]
        print(json.dumps(dict(impl="spikegrad", epoch=r["epoch"], test_acc=r["valid_accuracy"],
                              seconds=round(elapsed, 2))))
final = json.load(open(f"{run}/final.json"))
print(json.dumps(dict(impl="spikegrad", final=True, test_acc=final["test_accuracy"],
                      seconds=round(elapsed, 2), wall_seconds=round(end - start, 2))))
PY
  start=$(date +%s.%N)
  "$py" "$peers/rsnn_reference.py" "$train" "$test" --epochs "$epochs" --threads "$threads" \
    | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line); r["impl"] = "torch-ref"; print(json.dumps(r), flush=True)'
  end=$(date +%s.%N)
  echo "{\"impl\": \"torch-ref\", \"wall_seconds\": $(python3 -c "print(round($end - $start, 2))")}"
done
