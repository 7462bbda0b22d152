#!/usr/bin/env python3
"""Python feedparser on the inputs `examples/feed_suite.rs` polls.

Each input of a gofeed-style `testdata/` tree (parser/ and translator/) is
parsed from the same bytes with the same Content-Type header the runner's
server sends, and what feedparser found is written as JSON lines: file,
whether it parsed, feed title, and each entry's title, link and id. The Rust
runner reads them (`--feedparser FILE`) and scores them with the rules it
scores newsd by, on the same entries, so the two columns are comparable.

    pip install feedparser==6.0.14
    python3 bench/feedparser_suite.py /tmp/gofeed/testdata > /tmp/feedparser_suite.jsonl

A file counts as parsed when feedparser recognised its format (a non-empty
`version`): feedparser never raises, and its `bozo` flag is also set for
feeds it read in full after a repair.
"""

import json
import os
import sys

import feedparser


def content_type(path):
    # Must match `content_type` in examples/feed_suite.rs.
    return "application/feed+json" if path.endswith(".json") else "application/xml"


def inputs(root):
    for sub in ("parser", "translator"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, sub)):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if name.endswith(".xml"):
                    yield path
                elif name.endswith(".json") and not name.endswith("_expected.json"):
                    if os.path.exists(path[: -len(".json")] + "_expected.json"):
                        yield path


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: feedparser_suite.py <testdata dir>")
    root = sys.argv[1]
    parsed = 0
    total = 0
    for path in inputs(root):
        total += 1
        with open(path, "rb") as f:
            body = f.read()
        d = feedparser.parse(body, response_headers={"content-type": content_type(path)})
        ok = bool(d.get("version"))
        parsed += ok
        record = {
            "file": os.path.relpath(path, root),
            "parsed": ok,
            "title": d.feed.get("title"),
            "entries": [
                {"title": e.get("title"), "link": e.get("link"), "id": e.get("id")}
                for e in d.entries
            ],
        }
        print(json.dumps(record))
    print(f"feedparser {feedparser.__version__}: parsed {parsed} of {total}", file=sys.stderr)


if __name__ == "__main__":
    main()
