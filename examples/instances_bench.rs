//! Several instances on one PostgreSQL archive: N `newsd` processes (this
//! binary in `--worker` mode, each an `App` with its own `instance.name`)
//! share the due feeds of one round, claiming each before polling it, the
//! daemon's path (`App::poll_due_once`). The feed server is
//! `ingest_bench --serve-only` (build it first); every round brings 100 new
//! items per feed.
//!
//! ```text
//! cargo build --release --example ingest_bench --example instances_bench
//! target/release/examples/instances_bench --server postgres://newsd:newsd@127.0.0.1/newsd \
//!     --instances 3 --feeds 5000 --rounds 1 --shape google
//! ```
//!
//! Each run makes a fresh database on the server (dropped at the end), so
//! runs with 1 and 3 instances compare like for like.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use chrono::Utc;
use clap::Parser;
use sqlx::{Connection, Executor};

use newsd::app::{App, PollStatus};
use newsd::config::Settings;

#[path = "support/child_server.rs"]
mod child_server;
use child_server::ChildServer;

const ITEMS_PER_FEED: u64 = 100;

#[derive(Parser, Debug)]
#[command(about = "newsd: ingest by several instances on one PostgreSQL archive")]
struct Args {
    /// A PostgreSQL URL whose server gets the benchmark's fresh database.
    #[arg(long)]
    server: Option<String>,
    #[arg(long, default_value_t = 3)]
    instances: usize,
    #[arg(long, default_value_t = 1000)]
    feeds: usize,
    #[arg(long, default_value_t = 1)]
    rounds: u64,
    /// scheduler.max_concurrent_fetches and http.per_host_concurrency of
    /// each instance.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// `plain` or `google` (see ingest_bench).
    #[arg(long, default_value = "google")]
    shape: String,
    /// Internal: run as one instance with this config and name.
    #[arg(long)]
    worker: Option<String>,
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match (&args.worker, &args.config) {
        (Some(name), Some(config)) => rt.block_on(worker(name, config)),
        _ => rt.block_on(bench(&args)),
    }
}

/// One instance: registers, says `READY`, then polls what is due for each
/// `ROUND r` line and answers `DONE polls new_entries cpu_secs peak_mib`.
async fn worker(name: &str, config: &Path) -> Result<()> {
    let env = vec![("NEWSD__INSTANCE__NAME".to_owned(), name.to_owned())];
    let settings = Settings::load_with_env(Some(config), env)?.settings;
    let app = App::build(settings).await?;
    app.register(Utc::now()).await?;
    println!("READY");
    let mut line = String::new();
    let stdin = std::io::stdin();
    loop {
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let Some(round) = line.trim().strip_prefix("ROUND ") else {
            continue;
        };
        let round: i64 = round.parse()?;
        // Each round a day later: every feed is due again.
        let now = Utc::now() + chrono::Duration::days(round + 1);
        let cpu0 = cpu_secs();
        let reports = app.poll_due_once(now).await?;
        let new: usize = reports
            .iter()
            .map(|r| match &r.status {
                PollStatus::Ok { new_items, .. } => *new_items,
                _ => 0,
            })
            .sum();
        println!(
            "DONE {} {new} {:.3} {:.1}",
            reports.len(),
            cpu_secs() - cpu0,
            proc_mib("VmHWM")
        );
        app.heartbeat_once(Utc::now()).await?;
    }
    app.deregister().await;
    Ok(())
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        ensure!(
            self.stdout.read_line(&mut line)? > 0,
            "a worker exited early"
        );
        Ok(line.trim().to_owned())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn bench(args: &Args) -> Result<()> {
    let Some(server_url) = &args.server else {
        bail!("--server postgres://… is needed (the benchmark makes its own database there)");
    };
    let exe = std::env::current_exe()?;
    let feed_server = exe.with_file_name("ingest_bench");
    ensure!(
        feed_server.exists(),
        "build the feed server first: cargo build --release --example ingest_bench"
    );
    let server = ChildServer::start(
        &feed_server,
        &[
            "--serve-only".into(),
            "--port".into(),
            "0".into(),
            "--feeds".into(),
            args.feeds.to_string(),
            "--shape".into(),
            args.shape.clone(),
        ],
    )?;

    let db = format!("newsd_instances_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await?;
    let mut db_url = url::Url::parse(server_url)?;
    db_url.set_path(&db);
    let result = run(args, &server.base, db_url.as_str()).await;
    drop(server);
    admin
        .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
        .await?;
    result
}

async fn run(args: &Args, base: &str, db_url: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("newsd.toml");
    let mut s = String::new();
    writeln!(s, "[database]\nurl = \"{db_url}\"\n")?;
    writeln!(
        s,
        "[scheduler]\nmax_concurrent_fetches = {}\n",
        args.concurrency
    )?;
    writeln!(
        s,
        "[http]\nallow_networks = [\"127.0.0.1/32\"]\nper_host_delay = \"0s\"\nper_host_concurrency = {}\n",
        args.concurrency
    )?;
    writeln!(
        s,
        "[google_news]\nresolve = false\n[extract]\nenabled = false\n"
    )?;
    for i in 0..args.feeds {
        writeln!(s, "[[feeds]]\nurl = \"{base}/feed/{i}.xml\"")?;
    }
    std::fs::write(&cfg, s)?;
    // The archive made and its feeds synced once, before any worker starts.
    let setup = App::build(Settings::load_with_env(Some(&cfg), Vec::new())?.settings).await?;
    setup.sync_config_feeds(Utc::now()).await?;

    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    for i in 0..args.instances {
        let mut child = Command::new(&exe)
            .args(["--worker", &format!("bench-{i}")])
            .arg("--config")
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?);
        let mut w = Worker {
            child,
            stdin,
            stdout,
        };
        ensure!(w.line()? == "READY", "worker {i} did not start");
        workers.push(w);
    }
    let client = reqwest::Client::new();
    let mut total = Duration::ZERO;
    let mut new_total = 0u64;
    let mut cpu = vec![0.0f64; args.instances];
    let mut peaks = vec![0.0f64; args.instances];
    let mut polls = vec![0u64; args.instances];
    for round in 0..args.rounds {
        let resp = client
            .get(format!("{base}/advance/{round}"))
            .timeout(Duration::from_secs(600))
            .send()
            .await?;
        ensure!(resp.status().is_success(), "advance failed");
        let t = Instant::now();
        for w in &mut workers {
            writeln!(w.stdin, "ROUND {round}")?;
            w.stdin.flush()?;
        }
        let mut round_new = 0u64;
        for (i, w) in workers.iter_mut().enumerate() {
            let done = w.line()?;
            let f: Vec<&str> = done.split_whitespace().collect();
            ensure!(f.len() == 5 && f[0] == "DONE", "worker said {done:?}");
            polls[i] += f[1].parse::<u64>()?;
            round_new += f[2].parse::<u64>()?;
            cpu[i] += f[3].parse::<f64>()?;
            peaks[i] = peaks[i].max(f[4].parse::<f64>()?);
        }
        let took = t.elapsed();
        total += took;
        new_total += round_new;
        eprintln!(
            "round {round}: {round_new} new entries in {:.2}s ({:.0}/s)",
            took.as_secs_f64(),
            round_new as f64 / took.as_secs_f64()
        );
    }
    drop(workers);
    let stats = setup.store().stats().await?;
    let expected = args.feeds as u64 * ITEMS_PER_FEED * args.rounds;
    let polled: u64 = polls.iter().sum();
    println!(
        "instances={} feeds={} rounds={} shape={} | new entries {new_total} (articles {}, feed_items {}, expected {expected}) | \
         polls {polled} (expected {}) by instance {:?} | {:.2}s | {:.0} entries/s | CPU per instance {:?} s | peak RSS per instance {:?} MiB",
        args.instances,
        args.feeds,
        args.rounds,
        args.shape,
        stats.articles,
        stats.feed_items,
        args.feeds as u64 * args.rounds,
        polls,
        total.as_secs_f64(),
        new_total as f64 / total.as_secs_f64(),
        cpu.iter().map(|c| (c * 100.0).round() / 100.0).collect::<Vec<_>>(),
        peaks,
    );
    ensure!(
        stats.articles as u64 == expected
            && stats.feed_items as u64 == expected
            && polled == args.feeds as u64 * args.rounds,
        "entries lost, stored twice or feeds polled twice"
    );
    Ok(())
}

fn proc_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}
