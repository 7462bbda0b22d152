//! The `newsd` command line: argument definitions and what each command does.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::{self, Access, ApiState};
use crate::app::{App, PollStatus};
use crate::config::{HumanDuration, Settings};
use crate::domain::FeedUrl;
use crate::resolver::Resolution;
use crate::store::LinkStatus;
use crate::store::WriterLock;
use crate::store::{NewFeed, SearchQuery, SearchText, Store};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "newsd",
    version,
    about = "Keeps a local, queryable archive of the news"
)]
pub struct Cli {
    /// Config file layered over the built-in defaults.
    #[arg(long, global = true, env = "NEWSD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log output format (logs go to stderr; filter with RUST_LOG).
    #[arg(long, global = true, value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: poll feeds on their schedules until SIGINT/SIGTERM
    /// (and serve the HTTP API unless `api.enabled = false`).
    Run,
    /// Serve the HTTP API read-only over an existing archive: no polling,
    /// no config sync, no writes.
    Serve,
    /// Poll every feed now, print a line per feed, exit.
    Poll {
        /// Required: poll once and exit (the service is `newsd run`).
        #[arg(long)]
        once: bool,
    },
    /// Manage subscriptions.
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// Manage saved searches (standing queries that notify `[[channels]]`).
    Searches {
        #[command(subcommand)]
        command: SearchesCommand,
    },
    /// Full-text search of the archive (bm25-ranked, with snippets).
    Search {
        /// Plain words (all must match); see --fts for the engine's own syntax.
        query: Vec<String>,
        /// Only articles first seen within this window ("24h", "7d") or since an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only articles from this feed id.
        #[arg(long)]
        feed: Option<i64>,
        /// Only articles a `[[rules]]` tag rule gave this tag.
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Pass the query to the archive's own full-text syntax as written: SQLite FTS5
        /// (phrases, OR, NEAR, prefix*) or PostgreSQL to_tsquery (&, |, !, <->, prefix:*).
        #[arg(long)]
        fts: bool,
    },
    /// Export articles, one JSON object per line.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only articles first seen within this window or since an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
    },
    /// Counts of feeds, articles, errors and the database size.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Remove articles beyond the `[retention]` limits now and print what went.
    Prune {
        /// Only print what would go; changes nothing (no writer lock needed).
        #[arg(long)]
        dry_run: bool,
    },
    /// A consistent copy of the database, safe while the daemon runs.
    Backup { file: PathBuf },
    /// Copy the archive (`database.url`) into another database (SQLite to
    /// PostgreSQL), safe while the daemon runs; re-run to resume.
    Copy {
        /// The target database URL; it must be empty or hold an unfinished
        /// copy of this archive.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Rows per batch (one INSERT and commit each).
        #[arg(long, default_value_t = 2000)]
        batch: usize,
        /// Stop after this many batches, as an interruption would.
        #[arg(long, hide = true)]
        stop_after_batches: Option<u64>,
    },
    /// Print the publisher URL behind a Google News link or article id, and how it was found.
    Resolve { url_or_id: String },
    /// Extract one page (a URL to fetch, or an HTML file) and print its text,
    /// or `--batch IN_DIR OUT_DIR` to extract every `IN_DIR/<id>.html` to `OUT_DIR/<id>.txt`.
    Extract {
        /// A URL or an HTML file.
        #[arg(required_unless_present = "batch")]
        source: Option<String>,
        /// Print everything extracted as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long, num_args = 2, value_names = ["IN_DIR", "OUT_DIR"], conflicts_with = "source")]
        batch: Option<Vec<PathBuf>>,
        /// Pages extracted at once with `--batch` (default: one per core).
        #[arg(long, requires = "batch")]
        jobs: Option<usize>,
    },
    /// Re-run extraction on kept raw pages (needs extract.keep_raw_html).
    Reextract {
        #[arg(long)]
        since: Option<String>,
    },
    /// The `[[rules]]` of the config, applied to stored articles.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Re-apply the rules to stored articles (block: removed with a
    /// tombstone; tag: added) and print what changes.
    Apply {
        /// Only articles first seen within this window ("7d") or since an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only print what would change; writes nothing (no writer lock needed).
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Subscribe to a feed.
    Add {
        url: String,
        #[arg(long)]
        name: Option<String>,
        /// Fixed poll interval ("30m"); adaptive when omitted.
        #[arg(long)]
        interval: Option<HumanDuration>,
    },
    /// List feeds with their status, last error and next poll.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Unsubscribe (articles stay in the archive).
    Remove { feed: String },
    /// Re-enable a disabled feed (e.g. after HTTP 410) and poll it soon.
    Enable { feed: String },
    /// Stop polling a feed without removing it.
    Disable { feed: String },
    /// Subscribe to every feed in an OPML file.
    Import { file: PathBuf },
    /// Print all subscriptions as OPML.
    Export,
}

#[derive(Debug, Subcommand)]
pub enum SearchesCommand {
    /// Save a search; it notifies about articles first seen from now on.
    Add {
        name: String,
        /// Plain words (all must match), as `newsd search` takes them.
        #[arg(required = true)]
        query: Vec<String>,
        /// The query is the engine's own full-text syntax.
        #[arg(long)]
        fts: bool,
        /// Only articles of this feed (id or URL); repeatable.
        #[arg(long = "feed")]
        feeds: Vec<String>,
        /// Only articles of this publisher (exact name); repeatable.
        #[arg(long = "publisher")]
        publishers: Vec<String>,
        #[arg(long)]
        lang: Option<String>,
        /// A `[[channels]]` name to notify; repeatable.
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Send one message per interval ("1h") instead of one per story.
        #[arg(long)]
        digest: Option<HumanDuration>,
        /// Also match articles first seen before the search was saved.
        #[arg(long)]
        backfill: bool,
    },
    /// List saved searches.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved search (by name or id) made by the CLI or API.
    Remove { search: String },
    /// Print a search's past matches, one per story, without notifying.
    Run {
        search: String,
        /// Only articles first seen within this window ("7d") or since an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send a sample message through a search's channels and print what each answered.
    Test { search: String },
}

/// Runs a parsed command with loaded settings.
pub async fn dispatch(command: Command, settings: Settings) -> anyhow::Result<()> {
    let busy = settings.database.busy_timeout.0;
    match command {
        Command::Run => run(settings).await,
        Command::Serve => serve(settings).await,
        Command::Poll { once } => {
            if !once {
                bail!("`newsd poll` needs --once (the long-running service is `newsd run`)");
            }
            poll_once(settings).await
        }
        Command::Feeds { command } => feeds(command, &settings).await,
        Command::Searches { command } => searches(command, &settings).await,
        Command::Search {
            query,
            since,
            feed,
            tag,
            limit,
            json,
            fts,
        } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let q = SearchQuery {
                text: SearchText::new(query.join(" "), fts),
                since: since
                    .as_deref()
                    .map(|s| parse_since(s, Utc::now()))
                    .transpose()?,
                feed_id: feed,
                tag,
                limit,
            };
            let hits = store.search(&q).await?;
            let mut out = std::io::stdout().lock();
            for h in &hits {
                if json {
                    writeln!(out, "{}", serde_json::to_string(h)?)?;
                } else {
                    writeln!(
                        out,
                        "[{}] {}\n    {} | {} | {}\n    {}",
                        h.id,
                        h.title.as_deref().unwrap_or("(untitled)"),
                        h.publisher.as_deref().unwrap_or("-"),
                        h.published_at.as_deref().unwrap_or(&h.first_seen_at),
                        h.url.as_deref().unwrap_or("-"),
                        h.snippet.as_deref().unwrap_or_default().replace('\n', " "),
                    )?;
                }
            }
            if !json && hits.is_empty() {
                eprintln!("no matches");
            }
            Ok(())
        }
        Command::Export { format, since } => {
            let ExportFormat::Jsonl = format;
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let since = since
                .as_deref()
                .map(|s| parse_since(s, Utc::now()))
                .transpose()?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let page = store.export_page(since, after, 500).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for a in &page {
                    writeln!(out, "{}", serde_json::to_string(a)?)?;
                }
            }
            out.flush()?;
            Ok(())
        }
        Command::Stats { json } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let s = store.stats().await?;
            let g = store.google_queue_stats().await?;
            let day = store
                .google_link_costs(Utc::now() - chrono::Duration::days(1))
                .await?;
            let f = store.fulltext_stats().await?;
            let al = store.alert_stats().await?;
            let instances = store.live_instances(Utc::now()).await?;
            if json {
                let v = serde_json::json!({
                    "archive": s,
                    "google_links": g,
                    "google_links_last_day": day,
                    "full_text": f,
                    "alerts": al,
                    "instances": instances
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "feeds: {} ({} enabled, {} failing)\narticles: {} ({} with full text)\nfeed items: {}\ndatabase: {} bytes ({})",
                    s.feeds,
                    s.feeds_enabled,
                    s.feeds_failing,
                    s.articles,
                    s.articles_with_text,
                    s.feed_items,
                    s.database_bytes,
                    store.location()
                );
                println!(
                    "google links: {} pending ({} with signature), {} resolved, {} decoded offline, {} joined, {} failed",
                    g.pending, g.pending_signed, g.resolved, g.decoded, g.joined, g.failed
                );
                if day.new > 0 {
                    println!(
                        "google links, last day: {} new, {} needed an article-page GET ({:.0} %), {} queued without one yet",
                        day.new,
                        day.needed_get,
                        100.0 * day.needed_get as f64 / day.new as f64,
                        day.queued
                    );
                }
                let others: Vec<String> =
                    f.other.iter().map(|(st, n)| format!("{n} {st}")).collect();
                println!(
                    "full text: {} stored, {} queued{}{}",
                    f.done,
                    f.pending,
                    if others.is_empty() { "" } else { ", " },
                    others.join(", ")
                );
                println!(
                    "alerts: {} saved searches, {} matches held, {} events; deliveries {} pending, {} sent, {} failed",
                    al.searches,
                    al.matches_held,
                    al.events,
                    al.deliveries_pending,
                    al.deliveries_sent,
                    al.deliveries_failed
                );
                // Every egress the archive knows, and this instance's before
                // its first GET.
                let mut budgets = g.egresses.clone();
                if g.egress(&settings.google_news.egress).is_none() {
                    budgets.push(crate::store::EgressBudget {
                        egress: settings.google_news.egress.clone(),
                        ..Default::default()
                    });
                }
                for b in &budgets {
                    let open_until = b
                        .breaker_open_until
                        .as_deref()
                        .and_then(crate::store::parse_ts)
                        .filter(|t| *t > Utc::now());
                    let rule = settings.google_news.pace_rule();
                    let now = Utc::now();
                    let pace = b.pace().map(|p| rule.refilled(p, now));
                    let next_token = pace.map(|p| rule.next_token_at(&p));
                    let next_get = match (open_until, next_token) {
                        (Some(o), Some(p)) => Some(o.max(p)),
                        (o, p) => o.or(p),
                    }
                    .filter(|t| *t > now)
                    .map_or_else(|| "now".to_owned(), crate::store::ts);
                    println!(
                        "google budget (egress {:?}): breaker {}, {} lockouts (last {}), {} HTTP 429s, {} GETs and {} POSTs so far, last GET {}, next GET allowed {}",
                        b.egress,
                        match open_until {
                            Some(u) => format!("open until {}", crate::store::ts(u)),
                            None => "closed".to_owned(),
                        },
                        b.breaker_trips,
                        b.last_lockout_at.as_deref().unwrap_or("never"),
                        b.rate_limited_total,
                        b.gets_total,
                        b.posts_total,
                        b.last_get_at.as_deref().unwrap_or("never"),
                        next_get
                    );
                    let (interval, tokens) = match pace {
                        Some(p) => (p.interval, p.tokens),
                        None => (rule.min_interval, f64::from(rule.burst)),
                    };
                    println!(
                        "google pace (egress {:?}): one article-page GET per {} (learned; {} to {}), {:.1} of {} tokens",
                        b.egress,
                        humantime::format_duration(round_to_secs(interval)),
                        humantime::format_duration(rule.min_interval),
                        humantime::format_duration(rule.max_interval),
                        tokens.max(0.0),
                        rule.burst
                    );
                }
                if instances.is_empty() {
                    println!("instances: none running");
                }
                for i in &instances {
                    println!(
                        "instance {}: pid {} on {}, newsd {}, since {}, heartbeat {}; holds {} feeds, {} Google links, {} full-text jobs, {} deliveries{}",
                        i.name,
                        i.pid,
                        i.host,
                        i.version,
                        i.started_at,
                        i.heartbeat_at,
                        i.feeds,
                        i.google_links,
                        i.fulltext_jobs,
                        i.deliveries,
                        if i.singletons.is_empty() {
                            String::new()
                        } else {
                            format!("; runs {}", i.singletons.join(", "))
                        }
                    );
                }
            }
            Ok(())
        }
        Command::Resolve { url_or_id } => {
            let app = App::build(settings).await?;
            let how = app.resolver().resolve_one(&url_or_id, Utc::now()).await?;
            match how {
                Resolution::Offline(u) => {
                    println!("{u}\n(decoded offline: the id carries the URL)")
                }
                Resolution::Stored { url, placement } => match placement.status {
                    LinkStatus::Decoded => {
                        println!("{url}\n(already in the archive: decoded offline when stored)")
                    }
                    _ => println!(
                        "{url}\n(already in the archive: resolved by article page signature + batchexecute, {} GETs)",
                        placement.gets
                    ),
                },
                Resolution::Online {
                    url,
                    gets,
                    archived,
                } => {
                    println!(
                        "{url}\n(resolved online: article page signature + batchexecute, {gets} GETs)"
                    );
                    match archived {
                        Some(p) if p.status == LinkStatus::Joined => {
                            let placed = p.article_url.as_deref().unwrap_or("(unknown)");
                            let verdict = if crate::domain::CanonicalUrl::parse(placed).ok()
                                == crate::domain::CanonicalUrl::parse(&url).ok()
                            {
                                "the same article"
                            } else {
                                "ANOTHER article: the join was wrong"
                            };
                            println!(
                                "the archive had joined it, without a lookup, to {placed} (same headline and publisher): {verdict}"
                            );
                        }
                        Some(p) if p.status == LinkStatus::Failed => println!(
                            "the archive had given up on it after {} GETs: {}",
                            p.gets,
                            p.last_error.as_deref().unwrap_or("no error recorded")
                        ),
                        _ => {}
                    }
                }
            }
            Ok(())
        }
        Command::Extract {
            source,
            json,
            batch,
            jobs,
        } => match (batch, source) {
            (Some(dirs), _) => crate::extract_cmd::batch(&dirs[0], &dirs[1], jobs),
            (None, Some(source)) => crate::extract_cmd::one(&settings, &source, json).await,
            (None, None) => bail!("give a URL, a file, or --batch IN_DIR OUT_DIR"),
        },
        Command::Reextract { since } => {
            let since = since
                .as_deref()
                .map(|s| parse_since(s, Utc::now()))
                .transpose()?;
            let store = Store::open(&settings.database.url, busy).await?;
            let started = std::time::Instant::now();
            let r = crate::extract_cmd::reextract(&store, since).await?;
            println!(
                "re-extracted {} raw pages in {:.1}s: {} improved, {} unchanged, {} newly rejected, {} newly accepted",
                r.pages,
                started.elapsed().as_secs_f64(),
                r.improved,
                r.unchanged,
                r.newly_rejected,
                r.newly_accepted
            );
            Ok(())
        }
        Command::Prune { dry_run } => prune(settings, dry_run).await,
        Command::Rules {
            command: RulesCommand::Apply { since, dry_run },
        } => apply_rules(settings, since.as_deref(), dry_run).await,
        Command::Copy {
            to,
            batch,
            stop_after_batches,
        } => copy(settings, &to, batch, stop_after_batches).await,
        Command::Backup { file } => {
            if file.exists() {
                bail!("{} already exists; choose a new file", file.display());
            }
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            store
                .backup(&file)
                .await
                .with_context(|| format!("writing backup to {}", file.display()))?;
            println!("backup written to {}", file.display());
            Ok(())
        }
    }
}

async fn copy(
    settings: Settings,
    to: &str,
    batch: usize,
    stop_after_batches: Option<u64>,
) -> anyhow::Result<()> {
    let busy = settings.database.busy_timeout.0;
    let shown = crate::store::redacted(to);
    let source = Store::open_read_only(&settings.database.url, busy).await?;
    // No daemon may write the target while it is filled.
    let _lock = crate::store::lock_exclusive(to)
        .await
        .with_context(|| format!("locking {shown}"))?;
    let target = Store::open(to, busy)
        .await
        .with_context(|| format!("opening {shown}"))?;
    let options = crate::store::copy::CopyOptions {
        batch,
        max_batches: stop_after_batches,
        ..Default::default()
    };
    let mut bar: Option<(String, crate::progress::Progress)> = None;
    let mut progress = |p: crate::store::copy::CopyProgress<'_>| {
        if bar.as_ref().is_none_or(|(table, _)| *table != p.table) {
            if let Some((_, done)) = bar.take() {
                done.finish();
            }
            bar = Some((
                p.table.to_owned(),
                crate::progress::Progress::new(p.table, p.total),
            ));
        }
        if let Some((_, b)) = &bar {
            b.set(p.done, p.total);
        }
    };
    let report = crate::store::copy::copy_archive(&source, &target, &options, &mut progress)
        .await
        .with_context(|| format!("copying {} to {shown}", source.location()));
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    let report = report?;
    println!(
        "{} {} to {shown}{}",
        if report.complete {
            "copied"
        } else {
            "partly copied"
        },
        source.location(),
        if report.resumed { " (resumed)" } else { "" }
    );
    for t in &report.tables {
        println!(
            "  {:<14} {:>10} rows ({} this run)",
            t.table, t.target_rows, t.copied
        );
    }
    let copied: u64 = report.tables.iter().map(|t| t.copied).sum();
    println!("{copied} rows in {:.1}s", report.elapsed.as_secs_f64());
    if !report.complete {
        bail!("the copy stopped before the end; run the same command again to resume");
    }
    if !report.mismatches.is_empty() {
        for m in &report.mismatches {
            eprintln!("check: {m}");
        }
        bail!(
            "the copy does not match the source ({} problems)",
            report.mismatches.len()
        );
    }
    println!(
        "checked: row counts of {} tables and {} sampled articles match",
        report.tables.len(),
        report.sampled
    );
    Ok(())
}

async fn apply_rules(settings: Settings, since: Option<&str>, dry_run: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = since.map(|s| parse_since(s, now)).transpose()?;
    let rules = crate::rules::RuleSet::compile(&settings.rules)?;
    if rules.is_empty() {
        println!("no [[rules]] in the config: nothing to apply");
        return Ok(());
    }
    let busy = settings.database.busy_timeout.0;
    // The writer's lock is held, for a pass that writes, until it ends.
    let (store, _lock) = if dry_run {
        (
            Store::open_read_only(&settings.database.url, busy).await?,
            None,
        )
    } else {
        let (app, lock) = open_writer(settings).await?;
        (app.store().clone(), Some(lock))
    };
    let show = |a: &crate::store::RuledArticle, c: &crate::rules::Change| {
        println!("{}", crate::rules_cmd::describe(a, c, dry_run));
    };
    let r = crate::rules_cmd::apply(&store, &rules, since, dry_run, now, show).await?;
    let verb = if dry_run { "would change" } else { "changed" };
    println!(
        "{verb} {} of {} articles: {} removed, {} unlinked from some feeds, {} tagged",
        r.changed, r.articles, r.removed, r.unlinked, r.tagged
    );
    Ok(())
}

async fn prune(settings: Settings, dry_run: bool) -> anyhow::Result<()> {
    let policy = settings.retention.policy();
    if !policy.is_active() {
        println!(
            "no retention limit set (retention.max_age, retention.max_db_bytes): nothing to prune"
        );
        return Ok(());
    }
    let now = Utc::now();
    let report = if dry_run {
        let busy = settings.database.busy_timeout.0;
        let store = Store::open_read_only(&settings.database.url, busy).await?;
        store.prune(now, &policy, true).await?
    } else {
        let (app, _lock) = open_writer(settings).await?;
        app.prune_once(now).await?
    };
    let verb = if dry_run { "would prune" } else { "pruned" };
    println!(
        "{verb} {} articles ({} by age, {} by size)",
        report.articles, report.by_age, report.by_size
    );
    if let (Some(oldest), Some(newest)) = (&report.oldest_first_seen, &report.newest_first_seen) {
        println!("first seen from {oldest} to {newest}");
    }
    if dry_run {
        println!(
            "database: {} bytes on disk, {} in use, about {} in use after pruning",
            report.bytes_before, report.used_bytes_before, report.used_bytes_after
        );
    } else {
        println!(
            "database: {} -> {} bytes on disk ({} reclaimed), {} -> {} in use",
            report.bytes_before,
            report.bytes_after,
            report.bytes_reclaimed(),
            report.used_bytes_before,
            report.used_bytes_after
        );
    }
    Ok(())
}

async fn open_writer(settings: Settings) -> anyhow::Result<(App, WriterLock)> {
    open_writer_as(settings, false).await
}

/// A writer that, with `register`, joins the archive's live instances
/// first (`newsd run`, `poll --once`: they claim shared work).
async fn open_writer_as(settings: Settings, register: bool) -> anyhow::Result<(App, WriterLock)> {
    let lock = crate::store::lock_writer(&settings.database.url).await?;
    let app = App::build(settings).await?;
    if register {
        app.register(Utc::now()).await?;
    }
    app.sync_config_feeds(Utc::now()).await?;
    app.sync_config_searches(Utc::now()).await?;
    Ok((app, lock))
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let (app, _lock) = open_writer_as(settings, true).await?;
    let shutdown = CancellationToken::new();
    let api = if app.settings().api.enabled {
        let s = app.settings().clone();
        let polls = Some(app.poll_metrics());
        Some(
            start_api(
                app.store().clone(),
                s,
                Access::ReadWrite,
                polls,
                shutdown.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutdown signal received");
        trigger.cancel();
    });
    let ran = app.run_until_stopped(shutdown).await;
    app.deregister().await;
    ran?;
    if let Some(api) = api {
        stop_api(api, app.settings().scheduler.shutdown_grace.0).await;
    }
    app.store().close().await;
    info!("stopped");
    Ok(())
}

/// `newsd serve`: the API over a read-only store until SIGINT/SIGTERM.
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = Store::open_read_only(&settings.database.url, settings.database.busy_timeout.0)
        .await
        .with_context(|| format!("opening database {} read-only", settings.database.url))?;
    let grace = settings.scheduler.shutdown_grace.0;
    let shutdown = CancellationToken::new();
    let mut api = start_api(
        store.clone(),
        settings,
        Access::ReadOnly,
        None,
        shutdown.clone(),
    )
    .await?;
    tokio::select! {
        r = &mut api => {
            store.close().await;
            return match r {
                Ok(r) => r.context("HTTP API stopped"),
                Err(e) => Err(e).context("HTTP API task"),
            };
        }
        _ = wait_for_signal() => info!("shutdown signal received"),
    }
    shutdown.cancel();
    stop_api(api, grace).await;
    store.close().await;
    info!("stopped");
    Ok(())
}

/// Binds `api.listen` (failing now, with the address named) and serves the
/// API until `shutdown` fires.
async fn start_api(
    store: Store,
    settings: Settings,
    access: Access,
    polls: Option<std::sync::Arc<crate::metrics::PollMetrics>>,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let addr = settings.api.listen_addr()?;
    let listener = api::bind(addr).await?;
    let state = ApiState::with_poll_metrics(store, settings, access, polls);
    Ok(tokio::spawn(api::serve(listener, state, shutdown)))
}

/// Waits (up to `grace`) for requests in flight once shutdown has fired.
async fn stop_api(api: tokio::task::JoinHandle<std::io::Result<()>>, grace: std::time::Duration) {
    match tokio::time::timeout(grace, api).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => warn!(error = %e, "HTTP API failed"),
        Ok(Err(e)) => warn!(error = %e, "HTTP API task failed"),
        Err(_) => warn!("HTTP API requests did not finish within the shutdown grace period"),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops newsd");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn poll_once(settings: Settings) -> anyhow::Result<()> {
    let (app, _lock) = open_writer_as(settings, true).await?;
    let heartbeat = tokio_util::task::TaskTracker::new();
    let stop = CancellationToken::new();
    app.spawn_heartbeat(&heartbeat, stop.clone());
    let done = poll_once_work(&app).await;
    stop.cancel();
    heartbeat.close();
    heartbeat.wait().await;
    app.deregister().await;
    app.store().close().await;
    done
}

async fn poll_once_work(app: &App) -> anyhow::Result<()> {
    let reports = app.poll_all_once(Utc::now()).await?;
    let mut out = std::io::stdout().lock();
    let (mut ok, mut failed, mut deferred) = (0, 0, 0);
    for r in &reports {
        match r.status {
            PollStatus::Ok { .. } | PollStatus::NotModified => ok += 1,
            PollStatus::Deferred { .. } => deferred += 1,
            _ => failed += 1,
        }
        writeln!(out, "{r}")?;
    }
    writeln!(
        out,
        "polled {} feeds: {ok} ok, {failed} failed, {deferred} deferred",
        reports.len()
    )?;
    let r = app.drain_resolution_once(Utc::now()).await?;
    let full = app.drain_fulltext_once(Utc::now()).await?;
    app.cluster_once().await?;
    let queued = app.store().fulltext_stats().await?;
    let q = app.store().google_queue_stats().await?;
    if r != Default::default() || q.pending > 0 {
        write!(
            out,
            "google links: {} resolved, {} joined articles known through a publisher URL, {} failed this run ({} GETs, {} POSTs); {} still queued",
            r.resolved, r.joined, r.failed, r.gets, r.posts, q.pending
        )?;
        match &r.cooling_down_until {
            Some(until) => writeln!(out, "; paused after a lockout until {until}")?,
            None => writeln!(out)?,
        }
    }
    if full.taken > 0 || queued.pending > 0 {
        let others: Vec<String> = full
            .without_text
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        writeln!(
            out,
            "full text: {} stored{}{}; {} still queued",
            full.stored,
            if others.is_empty() {
                String::new()
            } else {
                format!(", {}", others.join(", "))
            },
            if full.deferred > 0 {
                format!(", {} deferred (host backoff)", full.deferred)
            } else {
                String::new()
            },
            queued.pending
        )?;
    }
    Ok(())
}

async fn searches(command: SearchesCommand, settings: &Settings) -> anyhow::Result<()> {
    let busy = settings.database.busy_timeout.0;
    let now = Utc::now();
    let find = |store: &Store, name: &str| {
        let (store, name) = (store.clone(), name.to_owned());
        async move {
            store
                .find_search(&name)
                .await?
                .with_context(|| format!("no saved search named {name:?}"))
        }
    };
    match command {
        SearchesCommand::Add {
            name,
            query,
            fts,
            feeds,
            publishers,
            lang,
            channels,
            digest,
            backfill,
        } => {
            if let Some(c) = channels
                .iter()
                .find(|c| !settings.channels.iter().any(|k| &k.name == *c))
            {
                bail!("no [[channels]] entry named {c:?} in the config");
            }
            let store = Store::open(&settings.database.url, busy).await?;
            let mut feed_ids = Vec::new();
            for f in &feeds {
                let row = store
                    .find_feed(f)
                    .await?
                    .with_context(|| format!("no feed matches {f:?}"))?;
                feed_ids.push(row.id);
            }
            let search = crate::store::NewSearch {
                name,
                query: query.join(" "),
                fts,
                feeds: feed_ids,
                publishers,
                lang,
                channels,
                digest_secs: digest.map(|d| d.0.as_secs().max(1) as i64),
                backfill,
            };
            let (row, created) = store
                .add_search(&search, crate::store::SearchOrigin::Cli, now)
                .await?;
            if created && row.backfill {
                let n = crate::alerts::backfill(&store, &row, now, settings.alerts.hold.0).await?;
                println!("backfill: {n} past stories will notify");
            }
            if created {
                println!("added search {} {}", row.id, row.name);
            } else {
                println!(
                    "a search named {:?} exists already: search {}",
                    row.name, row.id
                );
            }
        }
        SearchesCommand::List { json } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            for s in store.list_searches().await? {
                if json {
                    println!("{}", serde_json::to_string(&s)?);
                    continue;
                }
                let state = if s.enabled {
                    s.origin.as_str().to_owned()
                } else {
                    format!(
                        "disabled ({})",
                        s.disabled_reason.as_deref().unwrap_or("user")
                    )
                };
                println!(
                    "{:>4}  {}  [{}]  {}{}  -> {}",
                    s.id,
                    s.name,
                    state,
                    s.query,
                    if s.fts { " (fts)" } else { "" },
                    if s.channels.is_empty() {
                        "-".to_owned()
                    } else {
                        s.channels.join(", ")
                    }
                );
            }
        }
        SearchesCommand::Remove { search } => {
            let store = Store::open(&settings.database.url, busy).await?;
            match store.remove_search(&search).await? {
                crate::store::SearchRemoval::Removed(row) => {
                    println!("removed search {} {}", row.id, row.name)
                }
                crate::store::SearchRemoval::NotFound => bail!("no saved search named {search:?}"),
            }
        }
        SearchesCommand::Run {
            search,
            since,
            limit,
            json,
        } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let row = find(&store, &search).await?;
            let since = since.as_deref().map(|s| parse_since(s, now)).transpose()?;
            let found =
                crate::alerts::past_matches(&store, &row, since, limit.clamp(1, 1000)).await?;
            let mut out = std::io::stdout().lock();
            for a in &found {
                if json {
                    writeln!(out, "{}", serde_json::to_string(a)?)?;
                } else {
                    writeln!(
                        out,
                        "[{}] {}\n    {} | {} | {}",
                        a.id,
                        a.title.as_deref().unwrap_or("(untitled)"),
                        a.publisher.as_deref().unwrap_or("-"),
                        a.first_seen_at,
                        a.url.as_deref().unwrap_or("-"),
                    )?;
                }
            }
            if !json && found.is_empty() {
                eprintln!("no matches");
            }
        }
        SearchesCommand::Test { search } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let row = find(&store, &search).await?;
            if row.channels.is_empty() {
                bail!("search {:?} has no channels", row.name);
            }
            let fetcher = crate::fetch::Fetcher::new(crate::app::fetch_config(settings))
                .context("building the HTTP client")?;
            let event_id = format!("test-{}", crate::alerts::new_event_id());
            let payload = crate::alerts::payload::story_payload(
                &event_id,
                &row,
                &crate::store::AlertStory {
                    id: 0,
                    title: Some(format!("newsd test message for {:?}", row.name)),
                    first_seen_at: crate::store::ts(now),
                },
                &[crate::store::AlertArticle {
                    id: 0,
                    url: Some("https://example.com/newsd-test".to_owned()),
                    title: Some(format!("newsd test message for {:?}", row.name)),
                    publisher: Some("newsd".to_owned()),
                    first_seen_at: crate::store::ts(now),
                    snippet: Some("A sample alert: nothing matched.".to_owned()),
                }],
            );
            let mut failed = false;
            for name in &row.channels {
                let Some(channel) = settings.channels.iter().find(|c| &c.name == name) else {
                    println!("{name}: no such channel in the config");
                    failed = true;
                    continue;
                };
                use crate::alerts::Sent;
                match crate::alerts::send::send(&fetcher, channel, &event_id, &payload).await {
                    Sent::Accepted { status } => println!("{name}: accepted (HTTP {status})"),
                    Sent::Refused { status, .. } => {
                        failed = true;
                        println!("{name}: refused (HTTP {status})")
                    }
                    Sent::Unreachable { error } | Sent::Impossible { error } => {
                        failed = true;
                        println!("{name}: not sent: {error}")
                    }
                }
            }
            if failed {
                bail!("not every channel accepted the test message");
            }
        }
    }
    Ok(())
}

async fn feeds(command: FeedsCommand, settings: &Settings) -> anyhow::Result<()> {
    let busy = settings.database.busy_timeout.0;
    let now = Utc::now();
    match command {
        FeedsCommand::Add {
            url,
            name,
            interval,
        } => {
            let url = FeedUrl::parse(&url).with_context(|| format!("feed URL {url:?}"))?;
            let store = Store::open(&settings.database.url, busy).await?;
            let feed = NewFeed {
                url: url.to_string(),
                name,
                interval_secs: interval.map(|d| d.0.as_secs().max(1) as i64),
            };
            let (row, created) = store.add_feed(&feed, "cli", now).await?;
            if created {
                println!("added feed {} {}", row.id, row.url);
            } else {
                println!("already subscribed: feed {} {}", row.id, row.url);
            }
        }
        FeedsCommand::List { json } => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let feeds = store.list_feeds().await?;
            for f in &feeds {
                if json {
                    println!("{}", serde_json::to_string(f)?);
                    continue;
                }
                let state = if f.enabled {
                    f.last_status.map_or("new", |s| s.as_str()).to_owned()
                } else {
                    format!(
                        "disabled ({})",
                        f.disabled_reason.as_deref().unwrap_or("user")
                    )
                };
                println!("{:>4}  {}  [{}]  {}", f.id, f.display_name(), state, f.url);
                if let Some(err) = &f.last_error {
                    println!("      last error ({} in a row): {err}", f.error_count);
                }
                if f.enabled {
                    println!(
                        "      next poll {} ({})",
                        f.next_poll_at,
                        f.next_poll_reason.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        FeedsCommand::Remove { feed } => {
            let store = Store::open(&settings.database.url, busy).await?;
            let crate::store::RemoveOutcome::Removed { id, url } = store.remove_feed(&feed).await?;
            println!("removed feed {id} {url}");
        }
        FeedsCommand::Enable { feed } => {
            let store = Store::open(&settings.database.url, busy).await?;
            let f = store.set_feed_enabled(&feed, true, now).await?;
            println!("enabled feed {} {}", f.id, f.url);
        }
        FeedsCommand::Disable { feed } => {
            let store = Store::open(&settings.database.url, busy).await?;
            let f = store.set_feed_enabled(&feed, false, now).await?;
            println!("disabled feed {} {}", f.id, f.url);
        }
        FeedsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading OPML file {}", file.display()))?;
            let outlines = crate::opml::parse(&text)
                .with_context(|| format!("parsing OPML file {}", file.display()))?;
            let store = Store::open(&settings.database.url, busy).await?;
            let (mut added, mut existing, mut invalid) = (0, 0, 0);
            for o in outlines {
                let url = match FeedUrl::parse(&o.url) {
                    Ok(u) => u,
                    Err(e) => {
                        eprintln!("skipped {:?}: {e}", o.url);
                        invalid += 1;
                        continue;
                    }
                };
                let feed = NewFeed {
                    url: url.to_string(),
                    name: o.title,
                    interval_secs: None,
                };
                if store.add_feed(&feed, "opml", now).await?.1 {
                    added += 1;
                } else {
                    existing += 1;
                }
            }
            println!("imported {added} feeds ({existing} already subscribed, {invalid} invalid)");
        }
        FeedsCommand::Export => {
            let store = Store::open_read_only(&settings.database.url, busy).await?;
            let feeds = store.list_feeds().await?;
            print!("{}", crate::opml::write(&feeds));
        }
    }
    Ok(())
}

/// `"24h"`, `"7d"` (a window ending now) or an RFC 3339 time.
pub fn parse_since(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(t) = crate::store::parse_ts(s) {
        return Ok(t);
    }
    let d: HumanDuration = s.parse().map_err(|e: String| {
        anyhow::anyhow!("--since {s:?}: expected a duration like \"24h\" or an RFC 3339 time ({e})")
    })?;
    let d = chrono::Duration::from_std(d.0).context("--since: duration too large")?;
    Ok(now - d)
}

/// A learned interval to show: whole seconds (its tenths-of-a-step
/// fractions say nothing to a reader).
fn round_to_secs(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_windows_and_timestamps() {
        let now = crate::store::parse_ts("2026-11-28T12:00:00Z").unwrap();
        assert_eq!(
            crate::store::ts(parse_since("24h", now).unwrap()),
            "2026-11-27T12:00:00Z"
        );
        assert_eq!(
            crate::store::ts(parse_since("2026-11-01T00:00:00Z", now).unwrap()),
            "2026-11-01T00:00:00Z"
        );
        assert!(parse_since("yesterday-ish", now).is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
