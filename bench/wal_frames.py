#!/usr/bin/env python3
"""Which b-trees an ingest run writes, page by page.

Runs `ingest_bench` with `--keep-db` while a second connection holds a read
transaction open on its database: SQLite can then neither checkpoint past
that snapshot nor start the WAL over, so every page every commit wrote stays
in the WAL. Afterwards each frame is attributed to the b-tree its page
belongs to (`dbstat` of the final database) and the bytes per stored entry
are printed. A b-tree written many times over its size (frames far above its
distinct pages) is rewritten at each commit: random inserts, or one
insertion point per feed or publisher.

    python3 bench/wal_frames.py --feeds 1000 --rounds 2 --shape google

Needs the `sqlite3` command (with dbstat, as Debian's) and a release build of
the example (`cargo build --release --example ingest_bench`). The WAL grows to
~5 KB per Google-shaped entry: 1 GB for the command above.
"""
import collections
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

BENCH = os.environ.get("INGEST_BENCH", "target/release/examples/ingest_bench")


def main(args):
    work = tempfile.mkdtemp(prefix="wal-frames-")
    try:
        db = os.path.join(work, "bench.db")
        bench = subprocess.Popen([BENCH, *args, "--keep-db", work],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while not os.path.exists(db + "-wal"):
            if bench.poll() is not None:
                sys.exit("ingest_bench exited before creating its database:\n" + bench.stdout.read())
            time.sleep(0.02)
        # Migrations and config sync happen before the first round; a snapshot
        # taken during them only counts a few more frames.
        pin = sqlite3.connect(db, isolation_level=None)
        pin.execute("BEGIN")
        pin.execute("SELECT count(*) FROM sqlite_master").fetchall()
        out, _ = bench.communicate()
        if bench.returncode != 0:
            sys.exit(f"ingest_bench failed ({bench.returncode}):\n{out}")
        summary = out.strip().splitlines()[-1]
        entries = int(re.search(r"new entries (\d+)", summary).group(1))
        for suffix in ("", "-wal"):
            shutil.copy(db + suffix, os.path.join(work, "copy.db" + suffix))
        pin.close()
        report(os.path.join(work, "copy.db"), entries, summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(db, entries, summary):
    frames, distinct, commits, page_size = collections.Counter(), set(), 0, 0
    with open(db + "-wal", "rb") as wal:
        page_size = struct.unpack(">I", wal.read(32)[8:12])[0]
        while len(header := wal.read(24)) == 24:
            page, db_size = struct.unpack(">II", header[:8])
            wal.seek(page_size, os.SEEK_CUR)
            frames[page] += 1
            commits += db_size != 0
    rows = subprocess.run(["sqlite3", db, "SELECT pageno, name FROM dbstat"],
                          capture_output=True, text=True, check=True).stdout
    owner = dict((int(p), n) for p, n in (line.split("|", 1) for line in rows.splitlines()))
    written, pages = collections.Counter(), collections.Counter()
    for page, n in frames.items():
        # Pages on the freelist at the end (merged-away key tiers, FTS segments).
        name = owner.get(page, "(free at the end)")
        written[name] += n
        pages[name] += 1
    total = sum(written.values())
    print(summary)
    print(f"\n{total:,} frames of {page_size} B ({total * page_size / 1e6:,.0f} MB) in {commits:,} "
          f"commits, {total * page_size / entries:,.0f} B per entry\n")
    print("| b-tree | frames | B per entry | distinct pages | writes per page |")
    print("|---|---:|---:|---:|---:|")
    for name, n in written.most_common():
        print(f"| {name} | {n:,} | {n * page_size / entries:,.0f} | {pages[name]:,} | {n / pages[name]:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
