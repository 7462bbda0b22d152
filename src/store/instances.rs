//! Several instances on one archive, whatever the engine: the registry of
//! live instances (name, heartbeat, what each holds), the leases of jobs that
//! run on one instance at a time, and the config feed list the archive last
//! synced. Leases on work (due feeds, Google links, alert deliveries) are
//! claimed by each queue's own statements on PostgreSQL; SQLite has one
//! writer, so its queues are never contended and claim nothing.
//!
//! The statements here are portable (`$n` placeholders, `ON CONFLICT … DO
//! UPDATE … WHERE`, `RETURNING`): both engines run the same text.

use std::time::Duration;

use serde::Serialize;

/// Who claims work, and for how long a claim holds without a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The instance's `instance.name`.
    pub name: String,
    pub lease: Duration,
}

impl Holder {
    /// The holder of a process that did not register (a CLI command, a
    /// test): host name and process id, as `instance.name` defaults.
    pub fn default_for_process(lease: Duration) -> Self {
        Holder {
            name: default_instance_name(),
            lease,
        }
    }

    /// When a claim made at `now` runs out unless renewed.
    pub fn until(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }
}

/// The holder a store's claims are made for, shared by its clones: the
/// process default until the instance registers under its name.
#[derive(Debug, Clone)]
pub(crate) struct HolderCell(std::sync::Arc<std::sync::RwLock<Holder>>);

impl Default for HolderCell {
    fn default() -> Self {
        HolderCell(std::sync::Arc::new(std::sync::RwLock::new(
            Holder::default_for_process(Duration::from_secs(30)),
        )))
    }
}

impl HolderCell {
    pub(crate) fn set(&self, holder: Holder) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = holder;
    }

    pub(crate) fn get(&self) -> Holder {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `instance.name`'s default: the host name and the process id.
pub fn default_instance_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// This machine's name, or `localhost` when it has none that is text.
pub fn host_name() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// An instance as it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    pub name: String,
    /// Tells this run from an earlier one under the same name.
    pub token: String,
    pub host: String,
    pub pid: u32,
    /// See [`process_scope`].
    pub scope: String,
    pub version: String,
    /// The config's `[[feeds]]` URLs.
    pub feed_urls: Vec<String>,
}

/// A live instance and what it holds, for `newsd stats` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRow {
    pub name: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: String,
    pub heartbeat_at: String,
    pub lease_until: String,
    /// Feeds being polled by it.
    pub feeds: i64,
    /// Google links it is resolving.
    pub google_links: i64,
    /// Full-text jobs it is fetching.
    pub fulltext_jobs: i64,
    /// Alert deliveries it is sending.
    pub deliveries: i64,
    /// The singleton jobs it runs (`cluster`, `alerts`, …).
    pub singletons: Vec<String>,
}

/// An instance already registered under a name, when another wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInstance {
    pub name: String,
    pub token: String,
    pub host: String,
    pub pid: i64,
    pub scope: String,
    pub heartbeat_at: String,
    pub lease_until: String,
}

/// Jobs that run on one instance at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// Story clustering.
    Cluster,
    /// Alert matching and promotion (the matching queue is one stream).
    Alerts,
    /// Database upkeep and search-index upkeep.
    Maintenance,
    /// Retention's pruning.
    Retention,
}

impl Singleton {
    pub fn as_str(self) -> &'static str {
        match self {
            Singleton::Cluster => "cluster",
            Singleton::Alerts => "alerts",
            Singleton::Maintenance => "maintenance",
            Singleton::Retention => "retention",
        }
    }
}

/// What a sync of the config's feeds learned about the other instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedListDiff {
    /// In this instance's config, not in the list the archive last synced.
    pub added: Vec<String>,
    /// In the list the archive last synced, not in this instance's config.
    pub missing: Vec<String>,
    /// Who synced that list.
    pub synced_by: Option<String>,
}

impl FeedListDiff {
    /// How `mine` differs from the list `synced_by` synced last (none, on an
    /// archive never synced).
    pub fn between(mine: &[String], last: Option<(Vec<String>, String)>) -> Self {
        let Some((last, synced_by)) = last else {
            return FeedListDiff::default();
        };
        FeedListDiff {
            added: mine.iter().filter(|u| !last.contains(u)).cloned().collect(),
            missing: last.iter().filter(|u| !mine.contains(u)).cloned().collect(),
            synced_by: Some(synced_by),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.missing.is_empty()
    }
}

pub(crate) const LIVE_BY_NAME: &str = "SELECT name, token, host, pid, scope, heartbeat_at, \
    lease_until FROM instances WHERE name = $1";

pub(crate) const LIVE_IN_SCOPE: &str = "SELECT name, token, host, pid, scope, heartbeat_at, \
    lease_until FROM instances WHERE scope = $1 AND lease_until > $2 ORDER BY name";

/// Takes the name for a new run: free, its holder's lease over (`$6` is
/// now), the same run again, or a holder known to be dead (`$9`, its token).
pub(crate) const REGISTER: &str = "INSERT INTO instances \
    (name, token, host, pid, version, started_at, heartbeat_at, lease_until, feed_urls, scope) \
    VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $10) \
    ON CONFLICT (name) DO UPDATE SET token = excluded.token, host = excluded.host, \
    pid = excluded.pid, scope = excluded.scope, version = excluded.version, \
    started_at = excluded.started_at, \
    heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until, \
    feed_urls = excluded.feed_urls \
    WHERE instances.lease_until <= $6 OR instances.token = $2 OR instances.token = $9 \
    RETURNING name";

pub(crate) const HEARTBEAT: &str =
    "UPDATE instances SET heartbeat_at = $3, lease_until = $4 WHERE name = $1 AND token = $2";

pub(crate) const DEREGISTER: &str = "DELETE FROM instances WHERE name = $1 AND token = $2";

pub(crate) const RENEW_SINGLETONS: &str =
    "UPDATE singletons SET lease_until = $3 WHERE holder = $1 AND lease_until > $2";

pub(crate) const RELEASE_SINGLETONS: &str = "DELETE FROM singletons WHERE holder = $1";

/// Claims a singleton job (`$3` is now): free, run out, or already ours.
pub(crate) const CLAIM_SINGLETON: &str = "INSERT INTO singletons (name, holder, since, lease_until) \
    VALUES ($1, $2, $3, $4) \
    ON CONFLICT (name) DO UPDATE SET \
    since = CASE WHEN singletons.holder = excluded.holder THEN singletons.since ELSE excluded.since END, \
    holder = excluded.holder, lease_until = excluded.lease_until \
    WHERE singletons.holder = $2 OR singletons.lease_until <= $3 \
    RETURNING holder";

pub(crate) const LIVE_INSTANCES: &str = "SELECT name, host, pid, version, started_at, \
    heartbeat_at, lease_until FROM instances WHERE lease_until > $1 ORDER BY name";

pub(crate) const LIVE_FEED_LISTS: &str =
    "SELECT feed_urls FROM instances WHERE lease_until > $1 AND name <> $2";

pub(crate) const HELD_SINGLETONS: &str =
    "SELECT name, holder FROM singletons WHERE lease_until > $1 ORDER BY name";

pub(crate) const LAST_FEED_SYNC: &str =
    "SELECT feed_urls, synced_by FROM config_feed_sync WHERE id = 1";

pub(crate) const SAVE_FEED_SYNC: &str =
    "INSERT INTO config_feed_sync (id, feed_urls, synced_by, synced_at) VALUES (1, $1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET feed_urls = excluded.feed_urls, \
     synced_by = excluded.synced_by, synced_at = excluded.synced_at";

/// The row as `LIVE_BY_NAME` and `LIVE_IN_SCOPE` read it.
pub(crate) type LiveColumns = (String, String, String, i64, String, String, String);

pub(crate) fn live_instance(r: LiveColumns) -> LiveInstance {
    LiveInstance {
        name: r.0,
        token: r.1,
        host: r.2,
        pid: r.3,
        scope: r.4,
        heartbeat_at: r.5,
        lease_until: r.6,
    }
}

/// The row as `LIVE_INSTANCES` reads it, before holdings are counted.
pub(crate) type InstanceColumns = (String, String, i64, String, String, String, String);

pub(crate) fn instance_row(c: InstanceColumns) -> InstanceRow {
    InstanceRow {
        name: c.0,
        host: c.1,
        pid: c.2,
        version: c.3,
        started_at: c.4,
        heartbeat_at: c.5,
        lease_until: c.6,
        feeds: 0,
        google_links: 0,
        fulltext_jobs: 0,
        deliveries: 0,
        singletons: Vec::new(),
    }
}

/// Feed URL lists as stored (JSON arrays); a list that does not parse
/// counts as empty rather than failing a sync.
pub(crate) fn parse_urls(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(crate) fn urls_json(urls: &[String]) -> String {
    serde_json::to_string(urls).unwrap_or_else(|_| "[]".into())
}

/// The instance methods whose statements and glue are the same on both
/// engines, for an engine's `impl` block: `$reader` and `$writer` are its
/// pools for reads and writes. The engine provides `release_leases(tx,
/// name)` (everything `name` holds, singleton jobs included) and
/// `renew_leases(tx, name, now, until)` (its queues' claims).
macro_rules! portable_instance_methods {
    ($reader:ident, $writer:ident) => {
        /// The instance registered under `name`, live or not.
        pub async fn instance_by_name(
            &self,
            name: &str,
        ) -> crate::store::error::Result<Option<crate::store::instances::LiveInstance>> {
            let row: Option<crate::store::instances::LiveColumns> =
                sqlx::query_as(crate::store::instances::LIVE_BY_NAME)
                    .bind(name)
                    .fetch_optional(&self.$reader)
                    .await?;
            Ok(row.map(crate::store::instances::live_instance))
        }

        /// The live instances registered from `scope` (this machine's
        /// processes, see `process_scope`).
        pub async fn instances_in_scope(
            &self,
            scope: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<Vec<crate::store::instances::LiveInstance>> {
            let rows: Vec<crate::store::instances::LiveColumns> =
                sqlx::query_as(crate::store::instances::LIVE_IN_SCOPE)
                    .bind(scope)
                    .bind(crate::store::time::ts(now))
                    .fetch_all(&self.$reader)
                    .await?;
            Ok(rows
                .into_iter()
                .map(crate::store::instances::live_instance)
                .collect())
        }

        pub async fn claim_singleton(
            &self,
            job: crate::store::instances::Singleton,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<bool> {
            let holder = self.holder();
            let got: Option<String> = sqlx::query_scalar(crate::store::instances::CLAIM_SINGLETON)
                .bind(job.as_str())
                .bind(&holder.name)
                .bind(crate::store::time::ts(now))
                .bind(crate::store::time::ts(holder.until(now)))
                .fetch_optional(&self.$writer)
                .await?;
            Ok(got.is_some())
        }

        /// The config feed URLs of every live instance but `me`.
        pub async fn other_feed_lists(
            &self,
            me: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<Vec<String>> {
            let lists: Vec<String> = sqlx::query_scalar(crate::store::instances::LIVE_FEED_LISTS)
                .bind(crate::store::time::ts(now))
                .bind(me)
                .fetch_all(&self.$reader)
                .await?;
            Ok(lists
                .iter()
                .flat_map(|l| crate::store::instances::parse_urls(l))
                .collect())
        }

        pub async fn last_feed_sync(
            &self,
        ) -> crate::store::error::Result<Option<(Vec<String>, String)>> {
            let row: Option<(String, String)> =
                sqlx::query_as(crate::store::instances::LAST_FEED_SYNC)
                    .fetch_optional(&self.$reader)
                    .await?;
            Ok(row.map(|(urls, by)| (crate::store::instances::parse_urls(&urls), by)))
        }

        pub async fn save_feed_sync(
            &self,
            urls: &[String],
            by: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<()> {
            sqlx::query(crate::store::instances::SAVE_FEED_SYNC)
                .bind(crate::store::instances::urls_json(urls))
                .bind(by)
                .bind(crate::store::time::ts(now))
                .execute(&self.$writer)
                .await?;
            Ok(())
        }

        /// Registers `me` unless a live instance holds the name; `dead` is
        /// the token of a holder known to be dead. Work the name held before
        /// (a run that died) is released for anyone to take.
        pub async fn register_instance(
            &self,
            me: &crate::store::instances::NewInstance,
            now: chrono::DateTime<chrono::Utc>,
            until: chrono::DateTime<chrono::Utc>,
            dead: Option<&str>,
        ) -> crate::store::error::Result<bool> {
            let mut tx = self.$writer.begin().await?;
            let got: Option<String> = sqlx::query_scalar(crate::store::instances::REGISTER)
                .bind(&me.name)
                .bind(&me.token)
                .bind(&me.host)
                .bind(i64::from(me.pid))
                .bind(&me.version)
                .bind(crate::store::time::ts(now))
                .bind(crate::store::time::ts(until))
                .bind(crate::store::instances::urls_json(&me.feed_urls))
                .bind(dead)
                .bind(&me.scope)
                .fetch_optional(&mut *tx)
                .await?;
            if got.is_none() {
                return Ok(false);
            }
            Self::release_leases(&mut tx, &me.name).await?;
            tx.commit().await?;
            Ok(true)
        }

        /// Says `name` is alive until `until` and renews what it holds;
        /// false when the registration is gone (another run took the name).
        pub async fn heartbeat(
            &self,
            name: &str,
            token: &str,
            now: chrono::DateTime<chrono::Utc>,
            until: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<bool> {
            let mut tx = self.$writer.begin().await?;
            let alive = sqlx::query(crate::store::instances::HEARTBEAT)
                .bind(name)
                .bind(token)
                .bind(crate::store::time::ts(now))
                .bind(crate::store::time::ts(until))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if alive {
                Self::renew_leases(&mut tx, name, now, until).await?;
                sqlx::query(crate::store::instances::RENEW_SINGLETONS)
                    .bind(name)
                    .bind(crate::store::time::ts(now))
                    .bind(crate::store::time::ts(until))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(alive)
        }

        /// A clean stop: the name and everything it held are free at once.
        pub async fn deregister_instance(
            &self,
            name: &str,
            token: &str,
        ) -> crate::store::error::Result<()> {
            let mut tx = self.$writer.begin().await?;
            let ours = sqlx::query(crate::store::instances::DEREGISTER)
                .bind(name)
                .bind(token)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if ours {
                Self::release_leases(&mut tx, name).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        /// The live instances at `now` as registered, with the singleton
        /// jobs each runs (the queues' holdings are the engine's to count).
        async fn registered_instances(
            &self,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::error::Result<Vec<crate::store::instances::InstanceRow>> {
            let rows: Vec<crate::store::instances::InstanceColumns> =
                sqlx::query_as(crate::store::instances::LIVE_INSTANCES)
                    .bind(crate::store::time::ts(now))
                    .fetch_all(&self.$reader)
                    .await?;
            let singletons: Vec<(String, String)> =
                sqlx::query_as(crate::store::instances::HELD_SINGLETONS)
                    .bind(crate::store::time::ts(now))
                    .fetch_all(&self.$reader)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|c| {
                    let mut row = crate::store::instances::instance_row(c);
                    row.singletons = singletons
                        .iter()
                        .filter(|(_, holder)| *holder == row.name)
                        .map(|(job, _)| job.clone())
                        .collect();
                    row
                })
                .collect())
        }
    };
}
pub(crate) use portable_instance_methods;

/// Where this process's id means this process: the host name and the PID
/// namespace (containers sharing a host name have namespaces of their own).
/// Empty where the namespace cannot be read: no instance is then known dead
/// by its process id, only by its lease.
pub fn process_scope() -> String {
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(ns) => format!("{}/{}", host_name(), ns.display()),
        Err(_) => String::new(),
    }
}

/// Whether a process `pid` runs on this machine (Linux's `/proc`; elsewhere
/// every process counts as alive, so only a lease's end frees its name).
pub fn process_alive(pid: i64) -> bool {
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true;
    }
    proc_root.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_feed_list_differs_from_the_last_synced_by_what_it_adds_and_lacks() {
        let diff = FeedListDiff::between(
            &urls(&["a", "b", "d"]),
            Some((urls(&["a", "b", "c"]), "one".into())),
        );
        assert_eq!(diff.added, urls(&["d"]));
        assert_eq!(diff.missing, urls(&["c"]));
        assert_eq!(diff.synced_by.as_deref(), Some("one"));
        assert!(FeedListDiff::between(&urls(&["a"]), None).is_empty());
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        assert!(process_alive(i64::from(std::process::id())));
        assert!(!process_alive(i64::from(u32::MAX)));
    }
}
