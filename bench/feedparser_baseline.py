#!/usr/bin/env python3
"""Python comparison for the ingest benchmark: the straightforward script.

Fetches each feed served by `ingest_bench --serve-only` with urllib (one
after another), parses it with feedparser, dedupes by link through a UNIQUE
constraint in sqlite3 and stores title/summary/link/published, one
transaction per feed. Same documents, same rounds protocol as the Rust side:
`GET /advance/{round}` before each (untimed) round switch.

    python3 bench/feedparser_baseline.py --server http://127.0.0.1:PORT --feeds 100 --rounds 2
"""

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
import urllib.request

import feedparser

ITEMS_PER_FEED = 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="base URL of ingest_bench --serve-only")
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="feedparser-bench-")
    db_path = os.path.join(tmp, "bench.db")
    db = sqlite3.connect(db_path)
    db.execute(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, link TEXT NOT NULL UNIQUE, "
        "title TEXT, summary TEXT, published TEXT, feed TEXT NOT NULL)"
    )
    db.commit()

    urls = [f"{args.server}/feed/{i}.xml" for i in range(args.feeds)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total_new = 0
    poll_time = 0.0
    for rnd in range(args.rounds):
        urllib.request.urlopen(f"{args.server}/advance/{rnd}", timeout=600).read()
        t0 = time.perf_counter()
        round_new = 0
        for url in urls:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = resp.read()
            parsed = feedparser.parse(body)
            with db:  # one transaction per feed
                for e in parsed.entries:
                    link = e.get("link")
                    if not link:
                        continue
                    cur = db.execute(
                        "INSERT OR IGNORE INTO entries (link, title, summary, published, feed) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (link, e.get("title"), e.get("summary"), e.get("published"), url),
                    )
                    round_new += cur.rowcount
        took = time.perf_counter() - t0
        poll_time += took
        total_new += round_new
        print(
            f"round {rnd}: {round_new} new entries in {took:.2f}s ({round_new / took:.0f}/s)",
            file=sys.stderr,
        )

    stored = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    expected = args.feeds * ITEMS_PER_FEED * args.rounds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    rate = total_new / poll_time
    correct = stored == expected and total_new == expected
    print(
        f"feedparser+sqlite3: feeds={args.feeds} rounds={args.rounds} | new entries {total_new} "
        f"(stored {stored}, expected {expected}) | poll time {poll_time:.2f}s | {rate:.0f} entries/s | "
        f"peak RSS before first round {rss_before:.1f} MiB, at end {peak:.1f} MiB",
        file=sys.stderr,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "impl": "feedparser",
                    "feeds": args.feeds,
                    "rounds": args.rounds,
                    "new_entries": total_new,
                    "articles": stored,
                    "expected": expected,
                    "correct": correct,
                    "seconds": poll_time,
                    "entries_per_sec": rate,
                    "rss_before_mib": rss_before,
                    "peak_rss_mib": peak,
                }
            )
        )
    db.close()
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.remove(db_path + suffix)
        except FileNotFoundError:
            pass
    os.rmdir(tmp)
    if not correct:
        sys.exit(f"correctness check failed: stored {stored}, new {total_new}, expected {expected}")


if __name__ == "__main__":
    main()
