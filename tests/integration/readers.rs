//! Readers beside the writer, through the real binaries: while `newsd poll
//! --once` ingests many feeds, the `sqlite3` CLI, `newsd search` and the API
//! of `newsd serve` query the same file over and over. WAL mode promises that neither side waits for the
//! other; this holds newsd to it, with the `sqlite3` CLI at its default busy
//! timeout of zero, so a single lock conflict would show as an error.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{feed_server, generated_rss, spawn_app_with, stderr, stdout, FeedServer};

const FEEDS: usize = 40;
const ENTRIES: usize = 150;

/// `FEEDS` feeds of `ENTRIES` distinct entries each, with long summaries so
/// the writes (and the full-text indexing after them) are heavy.
async fn harbour_feeds() -> FeedServer {
    feed_server(|n| {
        generated_rss(ENTRIES, |i| {
            (
                format!("f{n}-{i}"),
                format!("Harbour story {i} of feed {n} {}", "words ".repeat(8)),
                format!("https://news.example/{n}/{i}"),
            )
        })
    })
    .await
}

/// A bare HTTP/1.0 GET (the reader thread is not async): the status line and the body.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(sock, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = String::new();
    sock.read_to_string(&mut resp)?;
    Ok(resp)
}

/// What one reader run showed, if it was not a clean success.
fn failure(what: &str, out: &std::process::Output) -> Option<String> {
    let err = stderr(out);
    let lower = err.to_lowercase();
    if !out.status.success() || lower.contains("locked") || lower.contains("busy") {
        Some(format!("{what}: {} {err}", out.status))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite3_newsd_search_and_the_api_never_see_a_locked_database_while_poll_ingests() {
    let server = harbour_feeds().await;
    let feeds: Vec<String> = (0..FEEDS).map(|n| server.feed(n)).collect();
    // The schema exists before the readers start (a `sqlite3` on a missing
    // file would create an empty one).
    let t = spawn_app_with(
        &feeds,
        "\n[google_news]\nresolve = false\n[extract]\nenabled = false\n",
    )
    .await;
    t.app.store().close().await;
    let db = t.dir().join("newsd.db");

    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut serve = t
        .cli_command(&["serve"])
        .env("NEWSD__API__LISTEN", format!("127.0.0.1:{api_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newsd serve");
    let up = Instant::now();
    while http_get(api_port, "/readyz").is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "newsd serve never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let poll = t
        .cli_command(&["poll", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newsd poll --once");
    let started = Instant::now();

    let done = Arc::new(AtomicBool::new(false));
    let readers = {
        let done = done.clone();
        let db = db.clone();
        let search = t.cli_command(&["search", "--limit", "5", "harbour", "story"]);
        let (program, args, envs): (String, Vec<String>, Vec<(String, String)>) = (
            search.get_program().to_string_lossy().into_owned(),
            search
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            search
                .get_envs()
                .filter_map(|(k, v)| {
                    Some((
                        k.to_string_lossy().into_owned(),
                        v?.to_string_lossy().into_owned(),
                    ))
                })
                .collect(),
        );
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut counts = Vec::new();
            let mut runs = 0;
            while !done.load(Ordering::SeqCst) {
                let out = Command::new("sqlite3")
                    .arg(&db)
                    .arg(
                        "SELECT COUNT(*) FROM articles; \
                         SELECT COUNT(*) FROM feed_items fi JOIN articles a ON a.id = fi.article_id; \
                         SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'harbour';",
                    )
                    .output()
                    .expect("run sqlite3 (installed by .ci/run)");
                failures.extend(failure("sqlite3", &out));
                if let Some(n) = stdout(&out)
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<i64>().ok())
                {
                    counts.push(n);
                }
                let mut search = Command::new(&program);
                search.args(&args).env_remove("NEWSD_CONFIG");
                for (k, v) in &envs {
                    search.env(k, v);
                }
                let out = search.output().expect("run newsd search");
                failures.extend(failure("newsd search", &out));
                for path in ["/api/v1/articles?q=harbour&limit=5", "/metrics", "/readyz"] {
                    match http_get(api_port, path) {
                        Ok(resp)
                            if resp.starts_with("HTTP/1.0 200")
                                || resp.starts_with("HTTP/1.1 200") => {}
                        Ok(resp) => {
                            failures.push(format!("API {path}: {}", &resp[..resp.len().min(500)]))
                        }
                        Err(e) => failures.push(format!("API {path}: {e}")),
                    }
                }
                runs += 1;
            }
            (failures, counts, runs)
        })
    };

    let out = tokio::task::spawn_blocking(move || poll.wait_with_output())
        .await
        .expect("join")
        .expect("newsd poll --once");
    let ingest_took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let (failures, counts, runs) = readers.join().expect("reader thread");
    let _ = serve.kill();
    let serve_log = serve
        .wait_with_output()
        .map(|o| stderr(&o))
        .unwrap_or_default();
    assert!(
        !serve_log.to_lowercase().contains("locked"),
        "newsd serve logged: {serve_log}"
    );

    let text = stdout(&out);
    assert!(
        out.status.success(),
        "poll --once failed beside the readers:\n{text}\n{}",
        stderr(&out)
    );
    assert!(text.contains(&format!("{FEEDS} ok")), "{text}");
    assert!(
        !stderr(&out).to_lowercase().contains("locked"),
        "{}",
        stderr(&out)
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} reader rounds failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    // The readers really ran beside the writes: they saw the archive grow.
    let mut distinct = counts.clone();
    distinct.dedup();
    assert!(
        runs >= 3 && distinct.len() >= 2,
        "readers ran {runs} rounds in {ingest_took:?} and saw counts {counts:?}"
    );

    let t2 = t.restart().await;
    let articles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
        .fetch_one(t2.store().pool())
        .await
        .expect("count");
    // A reader holding the writer past the busy timeout would have failed a
    // poll with "database is locked" (checked above); the time it took is
    // the machine's business, not a verdict.
    assert_eq!(articles as usize, FEEDS * ENTRIES);
}
