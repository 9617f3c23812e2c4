#!/usr/bin/env bash
# Benchmark of `embplan profile` on ~2 GB of Criteo-format text, side by side
# in one run with
#   (a) wc -l          the I/O floor: read every byte, count newlines
#   (b) embplan profile --threads 2
#   (c) embplan profile --threads 2 --vocab DIR
#   (d) pandas         benches/pandas_profile.py, what users write today
# Every command reads the same file from a warm page cache; the runs go round
# robin (a b c d, a b c d, ...) so drift hits all alike. Reports the median
# wall time and peak RSS (/usr/bin/time -v) of each and prints a Markdown table.
#
#   bash benches/profile.sh
#
# Environment:
#   EMBPLAN_BENCH_DIR          where the data and outputs go (/tmp/embplan-bench)
#   EMBPLAN_BENCH_ROWS         rows to synthesize (8000000 rows = 1.99 GB)
#   EMBPLAN_BENCH_PREFIX_ROWS  time every command on only the first N rows
#                              (default: chosen automatically, only when the
#                              pandas run would take over ~10 minutes)
#   EMBPLAN_BENCH_RUNS         runs of each command (3)
#   EMBPLAN_BENCH_NO_PANDAS=1  skip the pandas run
#   EMBPLAN_PANDAS_PYTHON      a python with pandas (default: a venv at
#                              ${EMBPLAN_CACHE:-$HOME/.cache/embplan}/pandas-venv,
#                              created with `pip install pandas` if missing)
#   EMBPLAN_BENCH_IDLE_WAIT    seconds to wait for other CPU load to go (300)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${EMBPLAN_BENCH_DIR:-/tmp/embplan-bench}
ROWS=${EMBPLAN_BENCH_ROWS:-8000000}
RUNS=${EMBPLAN_BENCH_RUNS:-3}
IDLE_WAIT=${EMBPLAN_BENCH_IDLE_WAIT:-300}
NO_PANDAS=${EMBPLAN_BENCH_NO_PANDAS:-0}
THREADS=2
mkdir -p "$DIR"

note() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    note "installing GNU time (for peak RSS)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

note "building the release binary"
cargo build --release --quiet
# A private copy: a build running beside the benchmark must not swap it.
cp target/release/embplan "$DIR/embplan"
BIN=$DIR/embplan
REV="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes')"

PY=""
if [[ $NO_PANDAS != 1 ]]; then
    if [[ -n ${EMBPLAN_PANDAS_PYTHON:-} ]]; then
        PY=$EMBPLAN_PANDAS_PYTHON
    else
        VENV=${EMBPLAN_CACHE:-$HOME/.cache/embplan}/pandas-venv
        if ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
            note "creating $VENV with pandas"
            python3 -m venv "$VENV"
            "$VENV/bin/pip" install --quiet pandas
        fi
        PY=$VENV/bin/python
    fi
    "$PY" -c 'import pandas' || { note "$PY has no pandas"; exit 1; }
fi

# --- data (generated once, cached) -------------------------------------------
DATA=$DIR/criteo-2g.txt
if [[ ! -f $DATA || "$(cat "$DATA.rows" 2>/dev/null)" != "$ROWS" ]]; then
    note "generating $DATA ($ROWS rows)"
    rm -f "$DATA.rows"
    "$BIN" synth schemas/criteo-kaggle.toml --rows "$ROWS" --data-format criteo \
        -o "$DIR/criteo-2g.tmp.txt" -q
    mv "$DIR/criteo-2g.tmp.txt" "$DATA"
    echo "$ROWS" >"$DATA.rows"
fi

# --- machine idle? -----------------------------------------------------------
# Share of all CPUs busy over $1 seconds, from /proc/stat.
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
cpu_busy_pct() {
    local b0 t0 b1 t1
    read -r b0 t0 < <(awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat)
    sleep "$1"
    read -r b1 t1 < <(awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat)
    echo $(((b1 - b0) * 100 / (t1 - t0 + 1)))
}
# Waits (sharing one budget of $IDLE_WAIT seconds over the whole run) until
# the CPUs are under 10% busy for $1 seconds; sets BUSY.
waited=0
wait_idle() {
    while :; do
        BUSY=$(cpu_busy_pct "$1")
        ((BUSY < 10)) && return 0
        if ((waited >= IDLE_WAIT)); then
            note "warning: CPUs ${BUSY}% busy and the ${IDLE_WAIT}s wait is spent; measuring anyway"
            return 0
        fi
        note "CPUs ${BUSY}% busy (another build?); waiting"
        sleep 10
        waited=$((waited + 10 + $1))
    done
}
wait_idle 5
IDLE_PCT=$BUSY

# --- pandas too slow for the whole file? use a prefix for everyone ------------
PREFIX_ROWS=${EMBPLAN_BENCH_PREFIX_ROWS:-}
if [[ -z $PREFIX_ROWS && -n $PY ]]; then
    head -n 250000 "$DATA" >"$DIR/pilot.txt"
    PILOT=$(wc -l <"$DIR/pilot.txt")
    t0=$(date +%s%N)
    "$PY" benches/pandas_profile.py "$DIR/pilot.txt" >/dev/null 2>&1
    t1=$(date +%s%N)
    rm -f "$DIR/pilot.txt"
    est=$(((t1 - t0) * ROWS / PILOT / 1000000000))
    note "pandas pilot: ${PILOT} rows in $(((t1 - t0) / 1000000)) ms; ~${est}s for the whole file"
    if ((est > 600)); then PREFIX_ROWS=2000000; fi
fi
FILE=$DATA
NROWS=$ROWS
if [[ -n $PREFIX_ROWS && $PREFIX_ROWS -lt $ROWS ]]; then
    FILE=$DIR/criteo-prefix-$PREFIX_ROWS.txt
    [[ -f $FILE ]] || head -n "$PREFIX_ROWS" "$DATA" >"$FILE"
    NROWS=$PREFIX_ROWS
    note "pandas would take over ~10 minutes on the whole file:" \
        "every command reads the first $PREFIX_ROWS rows instead"
fi
BYTES=$(stat -c %s "$FILE")

note "warming the page cache"
cat "$FILE" >/dev/null

# --- the commands ------------------------------------------------------------
NAMES=("wc -l" "embplan profile --threads $THREADS" "embplan profile --threads $THREADS --vocab")
CMDS=(
    "wc -l $FILE"
    "$BIN profile $FILE --data-format criteo --threads $THREADS -o $DIR/out.toml -q"
    "$BIN profile $FILE --data-format criteo --threads $THREADS -o $DIR/out-vocab.toml --vocab $DIR/vocab -q"
)
if [[ -n $PY ]]; then
    NAMES+=("pandas (read_csv + value_counts)")
    CMDS+=("$PY benches/pandas_profile.py $FILE")
fi
N=${#CMDS[@]}

declare -A WALL RSS OTHER
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= RUNS; r++)); do
    for ((i = 0; i < N; i++)); do
        rm -rf "$DIR/vocab"
        wait_idle 2
        b0=$(busy_jiffies)
        t0=$(date +%s%N)
        # shellcheck disable=SC2086  # the command is split on purpose
        if ! /usr/bin/time -v -o "$DIR/time.txt" ${CMDS[$i]} >"$DIR/stdout-$i.txt" 2>"$DIR/stderr-$i.txt"; then
            note "failed: ${CMDS[$i]}"
            cat "$DIR/stderr-$i.txt" >&2
            exit 1
        fi
        t1=$(date +%s%N)
        b1=$(busy_jiffies)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
        rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$DIR/time.txt")
        own=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.2f", s}' "$DIR/time.txt")
        # CPU seconds the machine spent outside the measured command.
        other=$(awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" -v own="$own" \
            'BEGIN{o=b/hz-own; if(o<0)o=0; printf "%.2f", o}')
        WALL[$i]+="$wall "
        RSS[$i]+="$rss "
        OTHER[$i]+="$other "
        note "run $r/$RUNS: ${NAMES[$i]}: ${wall}s, cpu ${own}s, ${rss} KB, other cpu ${other}s"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
sumof() { tr ' ' '\n' | awk '{s+=$1} END{printf "%.1f", s}'; }

for ((i = 0; i < N; i++)); do
    MED[$i]=$(median <<<"${WALL[$i]}")
    MAXRSS[$i]=$(maxof <<<"${RSS[$i]}")
done
T_WC=${MED[0]}
T_PD=""
[[ -n $PY ]] && T_PD=${MED[3]}

echo
echo "## embplan profile vs wc -l vs pandas"
echo
echo "Data: $(basename "$FILE"): $NROWS rows, $(awk -v b="$BYTES" 'BEGIN{printf "%.2f GB", b/1e9}')" \
    "($BYTES bytes) of synthetic Criteo text (embplan synth schemas/criteo-kaggle.toml), page cache warm."
echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))," \
    "$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM;" \
    "CPUs ${IDLE_PCT}% busy just before; load average $LOAD_START at the start, $LOAD_END at the end."
[[ -n $PY ]] && echo "pandas $("$PY" -c 'import pandas; print(pandas.__version__)')," \
    "$("$PY" -c 'import sys; print(sys.version.split()[0])' ) (python)."
echo "embplan built from $REV."
echo "Median of $RUNS runs each, round robin; MB = 10^6 bytes; peak RSS = largest of the runs."
echo
echo "| command | median s | MB/s | rows/s | peak RSS | share of wc -l throughput | speed-up vs pandas |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for ((i = 0; i < N; i++)); do
    t=${MED[$i]}
    awk -v name="${NAMES[$i]}" -v t="$t" -v bytes="$BYTES" -v rows="$NROWS" \
        -v rss="${MAXRSS[$i]}" -v twc="$T_WC" -v tpd="$T_PD" '
        function commas(n,   s) { s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
        BEGIN{
        sp = (tpd == "") ? "n/a" : sprintf("%.1fx", tpd / t)
        printf "| `%s` | %.2f | %s | %s | %s MB | %.1f%% | %s |\n",
            name, t, commas(bytes / 1e6 / t), commas(rows / t), commas(rss * 1024 / 1e6), 100 * twc / t, sp }'
done
[[ -z $PY ]] && echo && echo "(pandas skipped: EMBPLAN_BENCH_NO_PANDAS=1)"
echo
for ((i = 0; i < N; i++)); do
    echo "- \`${NAMES[$i]}\`: runs ${WALL[$i]% }s; CPU seconds used by other processes during its runs: $(sumof <<<"${OTHER[$i]}")"
done

# --- sanity: pandas and embplan count the same distinct values ----------------
if [[ -n $PY ]]; then
    emb=$(awk -F'┆' '/^│ C[0-9]/{gsub(/[│ ,]/, "", $1); gsub(/[ ,]/, "", $2); print $1, $2}' "$DIR/stdout-1.txt")
    pd_=$(awk '/^C[0-9]/{gsub(/,/, "", $2); print $1, $2}' "$DIR/stdout-3.txt")
    if [[ -n $emb && $emb == "$pd_" ]]; then
        echo "- Check: pandas and embplan report the same distinct count for all 26 columns."
    else
        echo "- Check FAILED: pandas and embplan distinct counts differ:"
        diff <(echo "$emb") <(echo "$pd_") | head -20 || true
    fi
fi

# --- extrapolation -----------------------------------------------------------
echo
awk -v t="${MED[1]}" -v bytes="$BYTES" -v rows="$NROWS" -v th="$THREADS" 'BEGIN{
    rps = rows / t / th; bps = bytes / t / th
    printf "Per core (profile without --vocab, %d threads on %d cores): %.0f rows/s, %.0f MB/s.\n", th, th, rps, bps / 1e6
    R = 4.37e9; B = 1.3e12; C = 16
    printf "Extrapolation, not a measurement: Criteo 1TB (4.37 billion rows, ~1.3 TB of text) on %d cores,\n", C
    printf "assuming linear scaling from this machine: %.0f min by rows, %.0f min by bytes\n", R / (rps * C) / 60, B / (bps * C) / 60
    printf "(real Criteo rows are ~%.0f bytes, these %.0f; its cardinalities are far larger than\n", B / R, bytes / rows
    printf "Criteo Kaggle'\''s, so hash tables spill out of cache and the real figure may be slower).\n"
}'
