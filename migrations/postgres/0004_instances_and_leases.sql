-- Several newsd instances on one archive. Work is claimed, never assumed:
-- a due feed, a Google link and an alert delivery are held by one instance
-- (`leased_by`, its `instance.name`) until `lease_until`; a live instance
-- renews what it holds with each heartbeat, so a killed one's work is free
-- again one lease period after its last heartbeat. Full-text jobs already
-- had a lease; they get its holder, for `newsd stats`.

-- The instances that said they are alive. An instance is live while
-- `lease_until` is ahead; `token` tells one run from the next under the
-- same name.
CREATE TABLE instances (
    name          TEXT PRIMARY KEY,
    token         TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    -- The host name and PID namespace: where `pid` means this process, so
    -- an instance in the same scope whose process is gone is known dead.
    scope         TEXT NOT NULL,
    version       TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    lease_until   TEXT NOT NULL,
    -- The config's [[feeds]] of this instance (a JSON array of URLs): a
    -- feed leaves the config only when no live instance lists it.
    feed_urls     TEXT NOT NULL DEFAULT '[]'
);

-- Jobs that run on one instance at a time (clustering, alert matching,
-- upkeep, retention): held by `holder` until `lease_until`.
CREATE TABLE singletons (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    since        TEXT NOT NULL,
    lease_until  TEXT NOT NULL
);

-- The config feed list the archive last synced, and who synced it: an
-- instance with another list says how it differs.
CREATE TABLE config_feed_sync (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    feed_urls  TEXT NOT NULL,
    synced_by  TEXT NOT NULL,
    synced_at  TEXT NOT NULL
);

ALTER TABLE feeds ADD COLUMN leased_by TEXT, ADD COLUMN lease_until TEXT;
ALTER TABLE google_links ADD COLUMN leased_by TEXT, ADD COLUMN lease_until TEXT;
ALTER TABLE alert_deliveries ADD COLUMN leased_by TEXT, ADD COLUMN lease_until TEXT;
ALTER TABLE fulltext_jobs ADD COLUMN leased_by TEXT;
CREATE INDEX feeds_leased ON feeds (leased_by) WHERE leased_by IS NOT NULL;
CREATE INDEX google_links_leased ON google_links (leased_by) WHERE leased_by IS NOT NULL;
CREATE INDEX alert_deliveries_leased ON alert_deliveries (leased_by) WHERE leased_by IS NOT NULL;
CREATE INDEX fulltext_jobs_leased ON fulltext_jobs (leased_by) WHERE leased_by IS NOT NULL;
