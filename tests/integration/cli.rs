//! The real `newsd` binary: config errors, single writer, signals, queries.

use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{rss, spawn_app, spawn_app_with, stderr, stdout, Item};

async fn feed_server(items: &[Item<'_>]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss(items)))
        .mount(&server)
        .await;
    server
}

fn wait_for_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test]
async fn an_invalid_config_fails_at_start_naming_the_key_and_value() {
    let t = spawn_app(&[]).await;
    let bad = t.dir().join("bad.toml");
    std::fs::write(&bad, "[scheduler]\ndefault_interval = \"soon\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsd"))
        .arg("--config")
        .arg(&bad)
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("scheduler.default_interval"), "{err}");
    assert!(err.contains("soon"), "{err}");
}

#[tokio::test]
async fn poll_once_prints_a_line_per_feed_and_search_finds_a_cjk_title() {
    let server = feed_server(&[
        Item {
            guid: "1",
            title: "清华大学发布人工智能研究报告",
            link: "https://n.example/cn/1",
        },
        Item {
            guid: "2",
            title: "Chip exports rise",
            link: "https://n.example/en/2",
        },
    ])
    .await;
    let t = spawn_app(&[format!("{}/feed", server.uri())]).await;
    let out = t.cli(&["poll", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2 new entries"), "{text}");
    assert!(text.contains("polled 1 feeds: 1 ok"), "{text}");

    let out = t.cli(&["search", "清华大学"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("清华大学发布"), "{}", stdout(&out));

    let out = t.cli(&["search", "--json", "chip"]);
    let hit: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(hit["url"], "https://n.example/en/2");

    let out = t.cli(&["export", "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for key in [
        "id",
        "url",
        "title",
        "publisher",
        "published_at",
        "summary",
        "text",
        "feeds",
        "links",
        "first_seen_at",
    ] {
        assert!(rows[0].get(key).is_some(), "export has {key}");
    }
    assert!(
        rows[0]["text"].is_null(),
        "no full text yet, and never the summary"
    );
}

#[tokio::test]
async fn a_second_writer_is_refused_while_run_holds_the_lock_and_sigterm_stops_run_cleanly() {
    let server = feed_server(&[Item {
        guid: "1",
        title: "Hello",
        link: "https://n.example/1",
    }])
    .await;
    let t = spawn_app(&[format!("{}/feed", server.uri())]).await;
    let mut run = t.cli_command(&["run"]).spawn().unwrap();
    // Wait until the daemon has polled (it holds the lock from the start).
    let start = Instant::now();
    while t.article_count().await == 0 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t.article_count().await, 1);

    let out = t.cli(&["poll", "--once"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another newsd writer"),
        "{}",
        stderr(&out)
    );

    // Readers never take the lock.
    let out = t.cli(&["stats"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait_for_exit(&mut run, Duration::from_secs(10));
    let Some(status) = status else {
        let _ = run.kill();
        panic!("newsd run did not stop within 10 s of SIGTERM");
    };
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(t.app.store().integrity_check().await.unwrap(), "ok");

    let out = t.cli(&["poll", "--once"]);
    assert!(
        out.status.success(),
        "the lock is released: {}",
        stderr(&out)
    );
}

#[tokio::test]
async fn feeds_can_be_added_listed_imported_exported_and_removed() {
    let t = spawn_app(&[]).await;
    let out = t.cli(&[
        "feeds",
        "add",
        "https://example.com/rss",
        "--name",
        "Example",
        "--interval",
        "30m",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = t.cli(&["feeds", "add", "ftp://example.com/x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unsupported scheme"),
        "{}",
        stderr(&out)
    );

    let opml = t.dir().join("subs.opml");
    std::fs::write(
        &opml,
        r#"<opml version="2.0"><body><outline text="Folder">
           <outline text="One" xmlUrl="https://one.example/feed"/>
           <outline text="Example again" xmlUrl="https://example.com/rss"/></outline></body></opml>"#,
    )
    .unwrap();
    let out = t.cli(&["feeds", "import", opml.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("imported 1 feeds (1 already subscribed"),
        "{}",
        stdout(&out)
    );

    let out = t.cli(&["feeds", "list"]);
    let list = stdout(&out);
    assert!(
        list.contains("Example") && list.contains("https://one.example/feed"),
        "{list}"
    );

    let out = t.cli(&["feeds", "export"]);
    assert!(stdout(&out).contains("xmlUrl=\"https://one.example/feed\""));

    let out = t.cli(&["feeds", "remove", "https://one.example/feed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = t.cli(&["feeds", "list", "--json"]);
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[tokio::test]
async fn a_config_feed_cannot_be_removed_from_the_cli() {
    let t = spawn_app(&["https://configured.example/rss".to_owned()]).await;
    let out = t.cli(&["feeds", "remove", "https://configured.example/rss"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("managed by the config file"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn backup_writes_a_consistent_copy() {
    let server = feed_server(&[Item {
        guid: "1",
        title: "Hello",
        link: "https://n.example/1",
    }])
    .await;
    let t = spawn_app(&[format!("{}/feed", server.uri())]).await;
    t.cli(&["poll", "--once"]);
    let dest = t.dir().join("backup.db");
    let out = t.cli(&["backup", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = format!("sqlite://{}", dest.display());
    let copy = newsd::store::Store::open_read_only(&url, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(copy.integrity_check().await.unwrap(), "ok");
    assert_eq!(copy.stats().await.unwrap().articles, 1);
}

#[tokio::test]
async fn search_takes_fts_syntax_feed_since_and_limit_and_finds_two_character_cjk_words() {
    let chips = feed_server(&[
        Item {
            guid: "1",
            title: "Chip exports rise again",
            link: "https://n.example/en/1",
        },
        Item {
            guid: "2",
            title: "Chip makers and chip tariffs",
            link: "https://n.example/en/2",
        },
        Item {
            guid: "3",
            title: "東京の天気は雨",
            link: "https://n.example/ja/3",
        },
    ])
    .await;
    let weather = feed_server(&[
        Item {
            guid: "4",
            title: "Weather: a chip of ice in \"Paris\" (and more)",
            link: "https://n.example/en/4",
        },
        Item {
            guid: "5",
            title: "大学の天気予報",
            link: "https://n.example/ja/5",
        },
    ])
    .await;
    let t = spawn_app(&[
        format!("{}/feed", chips.uri()),
        format!("{}/feed", weather.uri()),
    ])
    .await;
    let out = t.cli(&["poll", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let urls = |args: &[&str]| -> Vec<String> {
        let out = t.cli(&[&["search", "--json"][..], args].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let mut urls: Vec<String> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["url"].to_string())
            .map(|u| {
                u.trim_matches('"')
                    .trim_start_matches("https://n.example/")
                    .to_owned()
            })
            .collect();
        urls.sort();
        urls
    };
    assert_eq!(urls(&["chip"]), ["en/1", "en/2", "en/4"]);
    assert_eq!(urls(&["--feed", "2", "chip"]), ["en/4"]);
    assert_eq!(urls(&["--limit", "1", "chip"]), ["en/2"], "best ranked");
    assert_eq!(urls(&["--since", "1h", "chip"]).len(), 3);
    assert!(urls(&["--since", "2999-01-01T00:00:00Z", "chip"]).is_empty());
    assert_eq!(urls(&["--fts", "tariffs OR weather"]), ["en/2", "en/4"]);
    assert_eq!(
        urls(&["\"Paris", "(and"]),
        ["en/4"],
        "quotes are plain text"
    );
    assert_eq!(urls(&["天気"]), ["ja/3", "ja/5"]);
    assert_eq!(urls(&["--feed", "1", "天気"]), ["ja/3"]);

    let out = t.cli(&["search", "--fts", "chip*"]);
    let text = stdout(&out);
    assert!(
        text.contains("    [Chip] makers and [chip] tariffs\n"),
        "{text}"
    );
    let out = t.cli(&["search", "--fts", "\"unbalanced"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "bad search query: unterminated string (in full-text query \"\\\"unbalanced\")"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn pretty_logs_to_a_file_carry_no_colour_codes() {
    // An unknown key makes every command log a warning, so there is a line to judge.
    let t = spawn_app_with(&[], "\n[colour_check]\nx = 1\n").await;
    let log_path = t.dir().join("newsd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let out = t
        .cli_command(&["--log-format", "pretty", "stats"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stderr(log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("colour_check"), "{logged}");
    assert!(!logged.contains("\u{1b}["), "{logged:?}");
}
