#!/usr/bin/env python3
"""Python comparison for the ingest benchmark: the straightforward script.

Fetches each feed served by `ingest_bench --serve-only` with urllib (one
after another), parses it with feedparser, dedupes by link through a UNIQUE
constraint in sqlite3 and stores title/summary/link/published, one
transaction per feed. Same documents, same rounds protocol as the Rust side:
`GET /advance/{round}` before each (untimed) round switch.

    python3 bench/feedparser_baseline.py --server http://127.0.0.1:PORT --feeds 100 --rounds 2

`--same-work` has the script do what newsd's store does for each entry, as
a hand-written script would: an article per normalized URL (lowercase
host without `www.`, no default port or fragment, tracking parameters
dropped, query sorted), a feed item per (feed, guid or link) linked to it,
and an FTS5 index over title and summary kept by a trigger.
"""

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import feedparser

ITEMS_PER_FEED = 100

TRACKING = {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
            "ocid", "igshid"}

SAME_WORK_SCHEMA = """
CREATE TABLE feeds (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT, url_key TEXT NOT NULL UNIQUE,
    title TEXT, summary TEXT, published TEXT, first_seen_at TEXT NOT NULL);
CREATE TABLE feed_items (id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL REFERENCES feeds (id),
    entry_key TEXT NOT NULL, article_id INTEGER NOT NULL REFERENCES articles (id),
    guid TEXT, link TEXT, first_seen_at TEXT NOT NULL, UNIQUE (feed_id, entry_key));
CREATE VIRTUAL TABLE articles_fts USING fts5 (title, summary, content = 'articles',
    content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
"""


def url_key(link):
    u = urllib.parse.urlsplit(link)
    host = (u.hostname or "").lower()
    while host.startswith("www."):
        host = host[4:]
    if u.port and not ((u.scheme == "http" and u.port == 80) or (u.scheme == "https" and u.port == 443)):
        host = f"{host}:{u.port}"
    query = sorted(
        (k, v)
        for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in TRACKING)
    )
    path = u.path.rstrip("/")
    return host + path + ("?" + urllib.parse.urlencode(query) if query else "")


def store_same_work(db, url, entries, now):
    """newsd's work for one poll: returns the new feed items."""
    db.execute("INSERT OR IGNORE INTO feeds (url) VALUES (?)", (url,))
    feed_id = db.execute("SELECT id FROM feeds WHERE url = ?", (url,)).fetchone()[0]
    new = 0
    for e in entries:
        link = e.get("link")
        key = e.get("id") or link
        if not key or not link:
            continue
        if db.execute(
            "SELECT 1 FROM feed_items WHERE feed_id = ? AND entry_key = ?", (feed_id, key)
        ).fetchone():
            continue
        ukey = url_key(link)
        db.execute(
            "INSERT INTO articles (url, url_key, title, summary, published, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url_key) DO NOTHING",
            (link, ukey, e.get("title"), e.get("summary"), e.get("published"), now),
        )
        article = db.execute("SELECT id FROM articles WHERE url_key = ?", (ukey,)).fetchone()[0]
        db.execute(
            "INSERT INTO feed_items (feed_id, entry_key, article_id, guid, link, first_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (feed_id, key, article, e.get("id"), link, now),
        )
        new += 1
    return new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="base URL of ingest_bench --serve-only")
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--same-work", action="store_true", help="store as newsd does (see above)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="feedparser-bench-")
    db_path = os.path.join(tmp, "bench.db")
    db = sqlite3.connect(db_path)
    if args.same_work:
        db.executescript(SAME_WORK_SCHEMA)
    else:
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
            if args.same_work:
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                with db:
                    round_new += store_same_work(db, url, parsed.entries, now)
                continue
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

    table = "feed_items" if args.same_work else "entries"
    stored = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
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
                    "impl": "feedparser same work" if args.same_work else "feedparser",
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
