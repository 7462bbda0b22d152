//! No secret in any output: the real binary, with `RUST_LOG=trace` JSON logs,
//! an API token, a proxy URL with credentials and Google's consent cookies
//! all in use, must never print one of them on stdout or stderr.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::google_news::{token_id, FakeGoogle, GItem};
use crate::helpers::{relay_proxy, spawn_app_env, stderr, stdout, TestApp};

const TOKEN: &str = "tok-9c1d-s3cret-api";
const PROXY_USER: &str = "pxuser-4471";
const PROXY_PASS: &str = "pxpass-s3cret-8812";
/// The consent cookies the resolver sends (src/resolver.rs).
const COOKIES: [&str; 2] = ["SOCS=CAI", "CONSENT=YES+"];

fn traced(t: &TestApp, args: &[&str]) -> Command {
    let mut cmd = t.cli_command(&["--log-format", "json"]);
    cmd.args(args).env("RUST_LOG", "trace");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `newsd run` with the API on `port`: authenticated and unauthenticated
/// requests, then SIGTERM.
async fn run_daemon_briefly(t: &TestApp, port: u16) -> Output {
    let child = traced(t, &["run"])
        .env("NEWSD__API__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newsd run");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the API never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ok = client
        .get(format!("{base}/api/v1/feeds"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("authenticated request");
    assert_eq!(ok.status(), 200);
    let wrong = client
        .get(format!("{base}/api/v1/feeds"))
        .bearer_auth(format!("{TOKEN}-wrong"))
        .send()
        .await
        .expect("wrong-token request");
    assert_eq!(wrong.status(), 401);
    // Let a scheduler round or two go through the proxy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("newsd run output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_proxy_credential_or_cookie_appears_in_trace_logs_or_output() {
    let g = FakeGoogle::start().await;
    g.serve_consent_wall().await;
    let id = token_id("secrets");
    g.answer(&id, "https://paper.example/behind-the-wall");
    g.serve_feed(
        "/rss/search",
        &[GItem {
            id,
            title: "A story behind a consent wall",
            source: "Paper",
            source_url: "https://paper.example",
        }],
    )
    .await;
    let proxy = relay_proxy().await;
    let proxy_url = format!("http://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:{}", proxy.port);
    let t = spawn_app_env(
        &[g.feed_url("/rss/search")],
        &format!("{}[extract]\nenabled = false\n", g.config()),
        &[
            ("NEWSD__API__TOKEN", TOKEN),
            ("NEWSD__HTTP__PROXY", &proxy_url),
        ],
    )
    .await;
    t.app.store().close().await;

    let mut outputs: Vec<(String, Output)> = Vec::new();
    for args in [
        &["poll", "--once"][..],
        &["stats"],
        &["stats", "--json"],
        &["feeds", "list", "--json"],
        &["search", "story"],
    ] {
        let out = traced(&t, args).output().expect("run newsd");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        outputs.push((args.join(" "), out));
    }
    outputs.push(("run".into(), run_daemon_briefly(&t, free_port()).await));
    // A bad proxy setting is a configuration error that must not quote the URL.
    let out = traced(&t, &["stats"])
        .env(
            "NEWSD__HTTP__PROXY",
            format!("socks5://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:1080"),
        )
        .output()
        .expect("run newsd");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("http.proxy"), "{}", stderr(&out));
    outputs.push(("stats with a bad proxy".into(), out));

    // The secrets were really in play: the proxy was asked with its
    // credentials, and Google's consent wall was passed with the cookies.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{PROXY_PASS}"));
    let heads = proxy.heads.lock().expect("proxy log").clone();
    assert!(
        heads.iter().any(|h| h.contains(&format!("Basic {basic}"))),
        "no request reached the proxy with its credentials: {heads:?}"
    );
    assert!(
        heads.iter().any(|h| COOKIES.iter().all(|c| h.contains(c))),
        "the consent cookies were never sent: {heads:?}"
    );
    let resolved: Option<String> =
        sqlx::query_scalar("SELECT url FROM articles WHERE url LIKE '%behind-the-wall'")
            .fetch_optional(t.restart().await.store().pool())
            .await
            .expect("query");
    assert!(resolved.is_some(), "the Google link was never resolved");

    let mut secrets = vec![
        TOKEN.to_owned(),
        PROXY_USER.to_owned(),
        PROXY_PASS.to_owned(),
        basic,
    ];
    secrets.extend(COOKIES.iter().map(|c| c.to_string()));
    let (mut trace_lines, mut debug_lines) = (0, 0);
    for (what, out) in &outputs {
        let text = format!("{}\n{}", stdout(out), stderr(out));
        trace_lines += text.matches("\"level\":\"TRACE\"").count();
        debug_lines += text.matches("\"level\":\"DEBUG\"").count();
        for s in &secrets {
            if let Some(at) = text.find(s.as_str()) {
                let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
                panic!(
                    "`newsd {what}` printed the secret {s:?}:\n{}",
                    &text[from..to]
                );
            }
        }
    }
    // The logs were really at trace level (a filter typo would make this vacuous).
    assert!(
        trace_lines > 10 && debug_lines > 50,
        "only {trace_lines} trace and {debug_lines} debug lines"
    );
}
