#!/usr/bin/env bash
# Ingest benchmark: newsd (examples/ingest_bench.rs) against the straightforward
# Python script (feedparser + sqlite3), same local feeds, same machine, same run.
#
#   bench/ingest.sh                 # N=100 and N=5000
#   SIZES="100" bench/ingest.sh     # only N=100
#   SHAPE=google bench/ingest.sh    # feeds shaped like Google News search feeds
#   PY_MODES=minimal bench/ingest.sh  # only the minimal Python script (default: both,
#                                     # "minimal same-work"; see bench/feedparser_baseline.py)
#   POSTGRES_URL=postgres://newsd:newsd@127.0.0.1/postgres bench/ingest.sh
#                                   # newsd on PostgreSQL too, in the same run: a fresh
#                                   # database newsd_bench on that server for each size
#
# Rounds per size (RUST_ROUNDS_<N>, PY_ROUNDS_<N>) are chosen so that each run
# lasts >= ~10 s on a 2-core machine; override them through the environment.
# Concurrency: scheduler.max_concurrent_fetches = http.per_host_concurrency =
# $CONCURRENCY (all feeds are on 127.0.0.1, which is one host to newsd).
set -euo pipefail

cd "$(dirname "$0")/.."
export RUST_LIB_BACKTRACE=0
SIZES=${SIZES:-"100 5000"}
CONCURRENCY=${CONCURRENCY:-16}
SHAPE=${SHAPE:-plain}
PY_MODES=${PY_MODES:-"minimal same-work"}
: "${RUST_ROUNDS_100:=3}" "${PY_ROUNDS_100:=2}"
: "${RUST_ROUNDS_5000:=1}" "${PY_ROUNDS_5000:=1}"
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/release/examples/ingest_bench"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

python3 -c 'import feedparser' 2>/dev/null || {
    echo "feedparser is missing: pip install feedparser" >&2
    exit 1
}
cargo build --release --example ingest_bench -j "${JOBS:-1}" >&2

echo "feeds shaped: $SHAPE" >&2
echo "machine: $(nproc) cores, $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
for n in $SIZES; do
    rr_var="RUST_ROUNDS_$n"; pr_var="PY_ROUNDS_$n"
    rust_rounds=${!rr_var:-1}; py_rounds=${!pr_var:-1}
    extra=()
    if [ "$n" -le 1000 ]; then extra=(--breakdown --breakdown-feeds "$n"); fi

    echo "load average before newsd N=$n: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load" >&2
    echo "== newsd: $n feeds x $rust_rounds rounds" >&2
    "$BIN" --feeds "$n" --rounds "$rust_rounds" --concurrency "$CONCURRENCY" --shape "$SHAPE" --json "${extra[@]}" \
        >"$OUT/rust-$n.json" || echo "newsd run failed its correctness check (see above)" >&2
    if [ -n "${POSTGRES_URL:-}" ]; then
        psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS newsd_bench WITH (FORCE)" -c "CREATE DATABASE newsd_bench"
        pg_db="${POSTGRES_URL%/*}/newsd_bench"
        echo "load average before newsd on PostgreSQL N=$n: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load" >&2
        echo "== newsd on PostgreSQL: $n feeds x $rust_rounds rounds" >&2
        "$BIN" --feeds "$n" --rounds "$rust_rounds" --concurrency "$CONCURRENCY" --shape "$SHAPE" --json \
            --database-url "$pg_db" >"$OUT/pg-$n.json" || echo "newsd on PostgreSQL failed its correctness check" >&2
    fi

    for mode in $PY_MODES; do
        echo "load average before python ($mode) N=$n: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load" >&2
        echo "== feedparser+sqlite3 ($mode): $n feeds x $py_rounds rounds" >&2
        "$BIN" --serve-only --feeds "$n" --port 0 --shape "$SHAPE" >"$OUT/server-$n.out" &
        server=$!
        for _ in $(seq 100); do
            grep -q LISTENING "$OUT/server-$n.out" 2>/dev/null && break
            sleep 0.1
        done
        port=$(awk '/LISTENING/ {print $2}' "$OUT/server-$n.out")
        flag=()
        if [ "$mode" = same-work ]; then flag=(--same-work); fi
        python3 bench/feedparser_baseline.py --server "http://127.0.0.1:$port" \
            --feeds "$n" --rounds "$py_rounds" --json "${flag[@]}" >"$OUT/py-$mode-$n.json" || status=$?
        kill "$server"
        wait "$server" 2>/dev/null || true
        [ "${status:-0}" -eq 0 ] || exit "$status"
    done
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load"
python3 - "$OUT" "$PY_MODES" $SIZES <<'EOF'
import json, os, sys
out, modes, sizes = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def first(path):
    with open(path) as f:
        return json.loads(f.readline())
print()
print("| feeds | implementation | rounds | new entries stored | poll s | entries/s | peak RSS MiB | correct |")
print("|------:|----------------|-------:|-------------------:|-------:|----------:|-------------:|:-------:|")
ratios = []
for n in sizes:
    r = first(f"{out}/rust-{n}.json")
    py = {m: first(f"{out}/py-{m}-{n}.json") for m in modes}
    rows = [(r, "newsd (Rust)")]
    if os.path.exists(f"{out}/pg-{n}.json"):
        rows.append((first(f"{out}/pg-{n}.json"), "newsd on PostgreSQL"))
    rows += [(p, f"feedparser + sqlite3, {m}") for m, p in py.items()]
    for d, name in rows:
        print(f"| {n} | {name} | {d['rounds']} | {d['new_entries']} | {d['seconds']:.1f} | "
              f"{d['entries_per_sec']:,.0f} | {d['peak_rss_mib']:.1f} | {'yes' if d['correct'] else 'NO (%d failed polls)' % d.get('failed_polls', 0)} |")
    ratios.append((n, {m: r["entries_per_sec"] / p["entries_per_sec"] for m, p in py.items()}, r))
print()
for n, by_mode, r in ratios:
    against = ", ".join(f"{ratio:.2f}x {m}" for m, ratio in by_mode.items())
    print(f"N={n}: Rust/Python throughput = {against}; newsd RSS before the first round "
          f"{r['rss_before_mib']:.1f} MiB, CPU busy {r['cpu_seconds'] / r['seconds']:.2f} of {os.cpu_count()} cores")
for n in sizes:
    with open(f"{out}/rust-{n}.json") as f:
        lines = f.read().splitlines()
    for line in lines[1:]:
        print(f"N={n} breakdown: {line}")
print()
print(open(f"{out}/load").read().strip())
EOF
