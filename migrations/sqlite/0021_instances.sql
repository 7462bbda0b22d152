-- The instance registry, singleton leases and the last config feed sync,
-- as on PostgreSQL (its 0004), so `newsd stats` reads them alike. An SQLite
-- archive has one writer (the lock file), so its queues need no leases.
CREATE TABLE instances (
    name          TEXT PRIMARY KEY,
    token         TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    scope         TEXT NOT NULL,
    version       TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    lease_until   TEXT NOT NULL,
    feed_urls     TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE singletons (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    since        TEXT NOT NULL,
    lease_until  TEXT NOT NULL
);

CREATE TABLE config_feed_sync (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    feed_urls  TEXT NOT NULL,
    synced_by  TEXT NOT NULL,
    synced_at  TEXT NOT NULL
);
