//! `spawn_app()` and friends: a fresh temp database, config pointing at local
//! servers on 127.0.0.1, and the real binary for CLI tests.
//!
//! Tests of behaviour every engine shares are written once with
//! [`engine_test!`] and take their archive from the `_on(engine, …)`
//! spawners; the plain spawners are SQLite's, for tests of that engine.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use newsd::app::App;
use newsd::config::Settings;
pub use newsd::store::testing::TestArchive;
pub use newsd::store::EngineKind as Engine;

pub struct TestApp {
    pub app: App,
    /// The archive, and the directory the config (and SQLite's file) live in.
    pub archive: TestArchive,
    pub config_path: PathBuf,
    /// `NEWSD__…` overrides, applied to every load (and to CLI runs).
    pub env: Vec<(String, String)>,
}

/// Settings every test shares: loopback allowed (the SSRF guard blocks it by
/// default), no politeness delay, short timeouts.
const BASE_CONFIG: &str = r#"
[http]
allow_networks = ["127.0.0.1/32"]
per_host_delay = "0s"
timeout = "5s"
connect_timeout = "2s"
[scheduler]
shutdown_grace = "3s"
[api]
listen = "127.0.0.1:0"
"#;

/// Whether the PostgreSQL variant of `test` can run here; says on stderr
/// that it is skipped when no server is configured.
pub fn postgres_configured(test: &str) -> bool {
    let set = std::env::var_os(newsd::store::testing::POSTGRES_URL_VAR).is_some();
    if !set {
        eprintln!(
            "skipped {test} on PostgreSQL: {} is not set",
            newsd::store::testing::POSTGRES_URL_VAR
        );
    }
    set
}

/// A fresh, empty archive on `engine` (nothing opened yet).
pub async fn archive_on(engine: Engine) -> TestArchive {
    TestArchive::new(engine)
        .await
        .expect("engine_test! runs PostgreSQL variants only when a server is configured")
}

/// Defines a test once and runs it on every engine, as `name::on_sqlite`
/// and `name::on_postgres` (skipped, saying so, without a PostgreSQL
/// server); the body gets the engine as `engine`. `@tokio(…)` passes
/// arguments to `#[tokio::test]`.
macro_rules! engine_test {
    ($(#[$meta:meta])* $(@tokio($($targs:tt)*))? async fn $name:ident($engine:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($engine: $crate::helpers::Engine) $body

            $(#[$meta])*
            #[tokio::test$(($($targs)*))?]
            async fn on_sqlite() {
                run($crate::helpers::Engine::Sqlite).await;
            }

            $(#[$meta])*
            #[tokio::test$(($($targs)*))?]
            async fn on_postgres() {
                if $crate::helpers::postgres_configured(module_path!()) {
                    run($crate::helpers::Engine::Postgres).await;
                }
            }
        }
    };
}
pub(crate) use engine_test;

/// Runs one bind-less statement (portable SQL) on `store`'s engine, for
/// tests that set up rows the API cannot.
pub async fn execute(store: &newsd::store::Store, sql: &str) {
    match store.pg_pool() {
        Some(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        None => sqlx::query(sql).execute(store.pool()).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Every row of a bind-less query (portable SQL) on `store`'s engine.
pub async fn fetch_all<T>(store: &newsd::store::Store, sql: &str) -> Vec<T>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match store.pg_pool() {
        Some(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        None => sqlx::query_as(sql).fetch_all(store.pool()).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The one row a bind-less query (portable SQL) returns.
pub async fn fetch_one<T>(store: &newsd::store::Store, sql: &str) -> T
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let mut rows = fetch_all(store, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: one row");
    rows.remove(0)
}

/// Writes the test config for the archive at `url` into `dir`.
pub fn write_config(dir: &std::path::Path, url: &str, feeds: &[String], extra: &str) -> PathBuf {
    let mut toml = format!("[database]\nurl = \"{url}\"\n");
    toml.push_str(BASE_CONFIG);
    toml.push_str(extra);
    for f in feeds {
        toml.push_str(&format!("\n[[feeds]]\nurl = \"{f}\"\n"));
    }
    let path = dir.join("newsd.toml");
    std::fs::write(&path, toml).expect("write test config");
    path
}

pub fn load_settings(path: &std::path::Path, env: &[(String, String)]) -> Settings {
    Settings::load_with_env(Some(path), env.to_vec())
        .expect("test config loads")
        .settings
}

pub async fn spawn_app(feeds: &[String]) -> TestApp {
    spawn_app_on(Engine::Sqlite, feeds).await
}

pub async fn spawn_app_with(feeds: &[String], extra: &str) -> TestApp {
    spawn_app_with_on(Engine::Sqlite, feeds, extra).await
}

/// Like [`spawn_app_with`], with `NEWSD__SECTION__KEY` overrides (how tests
/// change a key the base config already sets).
pub async fn spawn_app_env(feeds: &[String], extra: &str, env: &[(&str, &str)]) -> TestApp {
    spawn_app_env_on(Engine::Sqlite, feeds, extra, env).await
}

pub async fn spawn_app_on(engine: Engine, feeds: &[String]) -> TestApp {
    spawn_app_with_on(engine, feeds, "").await
}

pub async fn spawn_app_with_on(engine: Engine, feeds: &[String], extra: &str) -> TestApp {
    spawn_app_env_on(engine, feeds, extra, &[]).await
}

/// The app of a fresh archive on `engine`, its config's feeds synced.
pub async fn spawn_app_env_on(
    engine: Engine,
    feeds: &[String],
    extra: &str,
    env: &[(&str, &str)],
) -> TestApp {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let archive = archive_on(engine).await;
    let config_path = write_config(archive.dir.path(), &archive.url, feeds, extra);
    let app = App::build(load_settings(&config_path, &env))
        .await
        .expect("app builds");
    app.sync_config_feeds(chrono::Utc::now())
        .await
        .expect("feeds sync");
    app.sync_config_searches(chrono::Utc::now())
        .await
        .expect("searches sync");
    TestApp {
        app,
        archive,
        config_path,
        env,
    }
}

impl TestApp {
    /// The directory of the config (and of SQLite's archive file).
    pub fn dir(&self) -> &std::path::Path {
        self.archive.dir.path()
    }

    /// The same database and config, opened again (a restart).
    pub async fn restart(&self) -> App {
        let app = App::build(load_settings(&self.config_path, &self.env))
            .await
            .expect("app rebuilds");
        app.sync_config_feeds(chrono::Utc::now())
            .await
            .expect("feeds sync");
        app.sync_config_searches(chrono::Utc::now())
            .await
            .expect("searches sync");
        app
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_command(args).output().expect("run newsd")
    }

    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsd"));
        cmd.arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env_remove("NEWSD_CONFIG")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    pub async fn article_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM articles").await
    }

    /// The one `BIGINT` a bind-less query (portable SQL) returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        newsd::store::testing::scalar_i64(self.app.store(), sql).await
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub struct Item<'a> {
    pub guid: &'a str,
    pub title: &'a str,
    pub link: &'a str,
}

pub fn rss(items: &[Item<'_>]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title><link>https://example.com/</link>",
    );
    for i in items {
        s.push_str(&format!(
            "<item><guid>{}</guid><title>{}</title><link>{}</link><description>About {}</description>\
             <pubDate>Sat, 28 Nov 2026 01:00:00 GMT</pubDate></item>",
            i.guid,
            i.title,
            i.link.replace('&', "&amp;"),
            i.title
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// A feed of `n` generated items, each `(guid, title, link)` made from its index.
pub fn generated_rss(n: usize, item: impl Fn(usize) -> (String, String, String)) -> String {
    let owned: Vec<(String, String, String)> = (0..n).map(item).collect();
    let items: Vec<Item<'_>> = owned
        .iter()
        .map(|(guid, title, link)| Item { guid, title, link })
        .collect();
    rss(&items)
}

/// A feed server on 127.0.0.1: `GET /feed/{n}` answers `body(n)`, counting
/// the requests. Tests that need their own feeds differ only in the body.
pub struct FeedServer {
    pub base: String,
    pub hits: Arc<AtomicUsize>,
}

impl FeedServer {
    pub fn feed(&self, n: usize) -> String {
        format!("{}/feed/{n}", self.base)
    }
}

pub async fn feed_server(body: impl Fn(usize) -> String + Send + Sync + 'static) -> FeedServer {
    use axum::extract::Path;
    use axum::routing::get;
    let body = Arc::new(body);
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = axum::Router::new().route(
        "/feed/{n}",
        get(move |Path(n): Path<usize>| {
            h.fetch_add(1, Ordering::SeqCst);
            std::future::ready(body(n))
        }),
    );
    FeedServer {
        base: serve(router).await,
        hits,
    }
}

/// Serves `router` on a free port of 127.0.0.1 until the test ends; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A feed server that counts requests in flight at once, for politeness tests.
pub struct CountingServer {
    pub base: String,
    pub max_in_flight: Arc<AtomicUsize>,
    pub hits: Arc<AtomicUsize>,
}

pub async fn counting_server(delay: Duration) -> CountingServer {
    use axum::extract::Path;
    use axum::routing::get;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(AtomicUsize::new(0));
    let (inf, max, h) = (in_flight.clone(), max_in_flight.clone(), hits.clone());
    let router = axum::Router::new().route(
        "/feed/{n}",
        get(move |Path(n): Path<String>| {
            let (inf, max, h) = (inf.clone(), max.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let now = inf.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                inf.fetch_sub(1, Ordering::SeqCst);
                let link = format!("https://news.example/{n}");
                rss(&[Item {
                    guid: &n,
                    title: "Counted",
                    link: &link,
                }])
            }
        }),
    );
    CountingServer {
        base: serve(router).await,
        max_in_flight,
        hits,
    }
}

/// A forward proxy on 127.0.0.1 that relays each request to its target (by
/// the absolute URI in the request line) and keeps the head it received,
/// `Proxy-Authorization` and all, for the test to inspect.
pub struct RelayProxy {
    pub port: u16,
    pub heads: Arc<std::sync::Mutex<Vec<String>>>,
}

pub async fn relay_proxy() -> RelayProxy {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match client.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                log.lock().expect("proxy log").push(head.clone());
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let (Some(method), Some(target), Some(version)) =
                    (first.next(), first.next(), first.next())
                else {
                    return;
                };
                let Ok(target) = url::Url::parse(target) else {
                    return;
                };
                let host = target.host_str().unwrap_or("").to_owned();
                let port = target.port_or_known_default().unwrap_or(80);
                let Ok(mut upstream) = tokio::net::TcpStream::connect((host.as_str(), port)).await
                else {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                };
                let path = match target.query() {
                    Some(q) => format!("{}?{q}", target.path()),
                    None => target.path().to_owned(),
                };
                let mut out = format!("{method} {path} {version}\r\n");
                for line in lines.filter(|l| !l.is_empty()) {
                    let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
                    if !matches!(
                        name.as_str(),
                        "proxy-authorization" | "proxy-connection" | "connection"
                    ) {
                        out.push_str(line);
                        out.push_str("\r\n");
                    }
                }
                // One request per connection keeps the relay trivial.
                out.push_str("Connection: close\r\n\r\n");
                if upstream.write_all(out.as_bytes()).await.is_err()
                    || upstream.write_all(&buf[end..]).await.is_err()
                {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    RelayProxy { port, heads }
}
