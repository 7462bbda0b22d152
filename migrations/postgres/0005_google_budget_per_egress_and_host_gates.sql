-- Several instances on one archive (issue 24).
--
-- Google's limit is per source address, so its budget (breaker, counters,
-- learned pace) belongs to an egress (`google_news.egress`): one row per
-- egress, taken under a row lock by every instance that sends from it.
-- Today's single row becomes the `default` egress's; a new egress gets its
-- row on first use.
ALTER TABLE google_budget DROP COLUMN id;
ALTER TABLE google_budget ADD COLUMN egress TEXT NOT NULL DEFAULT 'default';
ALTER TABLE google_budget ALTER COLUMN egress DROP DEFAULT;
ALTER TABLE google_budget ADD PRIMARY KEY (egress);

-- Per-host politeness for the whole cluster (`fetch::HostGate`): per
-- politeness key (`fetch::host_key`, the registrable domain) when the last
-- request started, by the database's clock so that instances on machines
-- whose clocks differ still space their requests.
CREATE TABLE host_gates (
    host       TEXT PRIMARY KEY,
    last_start TIMESTAMPTZ NOT NULL
);

-- The requests in flight, one row per hop: `holder` is the process, `hop`
-- its hop. A killed process's slots free themselves at `lease_until`.
CREATE TABLE host_gate_slots (
    host        TEXT NOT NULL,
    holder      BIGINT NOT NULL,
    hop         BIGINT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (host, holder, hop)
);
