//! Peak RSS while extracting pages at the body cap, several at once.
//!
//! cargo run --release --example extract_memory -- [BYTES] [CONCURRENT] [--shape markup|scripts] [--daemon]
//! (defaults: 10 MiB, `http.max_body_bytes`; 4, `extract.max_concurrent`)
//!
//! Alone, the extractor runs on CONCURRENT threads. With `--daemon`, a
//! child process serves CONCURRENT pages and a feed linking them on
//! 127.0.0.1, and this process runs the daemon's path on a temporary SQLite
//! archive: `App::poll_all_once` queues the pages, one `App::fulltext_once`
//! fetches, extracts and stores them all at once, as `newsd run` does; the
//! peak RSS is then newsd's alone.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use clap::Parser;

use newsd::app::App;
use newsd::config::Settings;
use newsd::extract::{extract, ExtractOptions};

#[path = "support/child_server.rs"]
mod child_server;
use child_server::ChildServer;

#[derive(Parser, Debug)]
#[command(about = "peak RSS of extraction at the body cap")]
struct Args {
    /// Bytes of each page.
    #[arg(default_value_t = 10 << 20)]
    bytes: usize,
    /// Pages extracted at once (and `extract.max_concurrent` with --daemon).
    #[arg(default_value_t = 4)]
    concurrent: usize,
    /// `markup`: all article markup; `scripts`: a real page at the cap, an
    /// article among inline scripts, JSON state, styles, SVG and images.
    #[arg(long, value_enum, default_value_t = Shape::Markup)]
    shape: Shape,
    /// Run the daemon's full-text path instead of the extractor alone.
    #[arg(long)]
    daemon: bool,
    /// Only serve the pages and their feed (prints `LISTENING <port>`).
    #[arg(long)]
    serve_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Shape {
    Markup,
    Scripts,
}

/// One section of ordinary article markup: the shapes readability and the
/// region pass walk.
fn section(html: &mut String, i: usize) {
    let _ = write!(
        html,
        "<section><h2><a href=\"/s{i}\">Section {i}</a></h2><p>Paragraph {i} tells how the \
         council voted on the transit budget and what the residents said at the hearing \
         that evening.</p><ul><li><a href=\"/t{i}\">Related {i}</a></li></ul></section>"
    );
}

/// The article of a script-heavy page: 30 paragraphs, ~1,000 words.
fn article(html: &mut String, seed: usize) {
    html.push_str("<article><h1>Council passes the transit budget</h1>");
    for i in 0..30 {
        let _ = write!(
            html,
            "<p>Paragraph {i} of story {seed}: the council voted on the transit budget after \
             residents spoke at the hearing, and the mayor said the plan would add buses on the \
             busiest routes before winter.</p>"
        );
    }
    html.push_str("</article>");
}

/// Filler of the non-content kinds real pages at the body cap are made of,
/// up to `bytes` of it, starting with kind `k`.
fn non_content(html: &mut String, bytes: usize, mut k: usize) {
    let end = html.len() + bytes;
    let mut chunk = String::new();
    loop {
        chunk.clear();
        filler(&mut chunk, k);
        if html.len() + chunk.len() > end {
            break;
        }
        html.push_str(&chunk);
        k += 1;
    }
}

/// One block of non-content of kind `k`, 64-150 KB.
fn filler(html: &mut String, k: usize) {
    match k % 5 {
        0 => {
            html.push_str("<script>window.__STATE__ = {\"items\":[");
            for j in 0..2000 {
                let _ = write!(
                    html,
                    "{{\"id\":{j},\"title\":\"Teaser {j} about the budget\",\"url\":\"/t/{j}\"}},"
                );
            }
            html.push_str("{}]};</script>");
        }
        1 => {
            html.push_str("<script>");
            for j in 0..2000 {
                let _ = write!(
                        html,
                        "function f{j}(a,b){{if(a<b){{return '<div class=\"x{j}\">'+a+'</div>';}}return b--;}}"
                    );
            }
            html.push_str("</script>");
        }
        2 => {
            html.push_str("<style>");
            for j in 0..2000 {
                let _ = write!(
                    html,
                    ".c{j} > a:hover {{ color: #{j:06x}; margin: 0 {j}px }} "
                );
            }
            html.push_str("</style>");
        }
        3 => {
            html.push_str("<svg style=\"display:none\">");
            for j in 0..500 {
                let _ = write!(
                        html,
                        "<symbol id=\"i{j}\" viewBox=\"0 0 24 24\"><path d=\"M{j} 0L24 {j}L0 24Z M3 3h18v18H3z\"/></symbol>"
                    );
            }
            html.push_str("</svg><!-- icons end -->");
        }
        _ => {
            html.push_str("<img alt=\"\" src=\"data:image/png;base64,");
            html.extend(std::iter::repeat_n('Q', 64 << 10));
            html.push_str("\">");
        }
    }
}

fn page(shape: Shape, bytes: usize, seed: usize) -> String {
    let mut html = String::with_capacity(bytes + (64 << 10));
    match shape {
        Shape::Markup => {
            html.push_str("<html><head><title>Long page</title></head><body><main>");
            let mut i = seed;
            // Sections are under 300 bytes: the page stays within `bytes`.
            while html.len() + 300 < bytes {
                section(&mut html, i);
                i += 1;
            }
            html.push_str("</main></body></html>");
        }
        Shape::Scripts => {
            html.push_str(
                "<html><head><title>Council passes the transit budget</title>\
                 <script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",\"headline\":\
                 \"Council passes the transit budget\"}</script>",
            );
            non_content(&mut html, bytes * 2 / 5, 0);
            html.push_str("</head><body><nav><a href=\"/\">Home</a></nav>");
            for i in 0..20 {
                section(&mut html, seed + i);
            }
            article(&mut html, seed);
            let rest = bytes.saturating_sub(html.len() + 16);
            non_content(&mut html, rest, 2);
            html.push_str("</body></html>");
        }
    }
    html
}

/// The process's peak resident set (VmHWM), in MiB; Linux only.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn alone(args: &Args) {
    let before = peak_rss_mib();
    let started = Instant::now();
    let words: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.concurrent)
            .map(|n| {
                s.spawn(move || {
                    let html = page(args.shape, args.bytes, n * 1_000_000);
                    extract(&html, &ExtractOptions::default()).word_count
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    println!(
        "extractor alone, {} pages of {} MiB ({:?}) at once: {:.1}s, words {words:?}, \
         peak RSS {:.0} MiB (before: {:.0} MiB)",
        args.concurrent,
        args.bytes >> 20,
        args.shape,
        started.elapsed().as_secs_f64(),
        peak_rss_mib(),
        before
    );
}

struct Pages {
    bytes: usize,
    shape: Shape,
    count: usize,
    port: u16,
}

async fn serve(args: &Args) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let state = Arc::new(Pages {
        bytes: args.bytes,
        shape: args.shape,
        count: args.concurrent,
        port,
    });
    let app = Router::new()
        .route("/feed.xml", get(feed))
        .route("/page/{n}", get(page_handler))
        .with_state(state);
    println!("LISTENING {port}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn feed(State(p): State<Arc<Pages>>) -> Response {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big pages</title>\
         <link>http://127.0.0.1/</link><description>Pages at the body cap</description>",
    );
    for n in 0..p.count {
        let _ = write!(
            s,
            "<item><title>Big page {n}</title><link>http://127.0.0.1:{}/page/{n}</link>\
             <guid>big-{n}</guid><description>A short summary.</description></item>",
            p.port
        );
    }
    s.push_str("</channel></rss>");
    ([(header::CONTENT_TYPE, "application/rss+xml")], s).into_response()
}

async fn page_handler(State(p): State<Arc<Pages>>, UrlPath(n): UrlPath<usize>) -> Response {
    if n >= p.count {
        return StatusCode::NOT_FOUND.into_response();
    }
    let html = page(p.shape, p.bytes, n * 1_000_000);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn daemon(args: &Args) -> Result<()> {
    let server = ChildServer::start(
        &std::env::current_exe()?,
        &[
            "--serve-only".into(),
            "--shape".into(),
            format!("{:?}", args.shape).to_lowercase(),
            args.bytes.to_string(),
            args.concurrent.to_string(),
        ],
    )?;

    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("newsd.toml");
    // The shipped config, but loopback allowed and all pages on one host
    // fetched at once, so all of them are extracted together.
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n\
         [http]\nallow_networks = [\"127.0.0.1/32\"]\nper_host_delay = \"0s\"\n\
         per_host_concurrency = {c}\nrespect_robots_txt = false\n\n\
         [extract]\nmax_concurrent = {c}\n\n\
         [[feeds]]\nurl = \"{base}/feed.xml\"\n",
        dir.path().join("bench.db").display(),
        base = server.base,
        c = args.concurrent,
    );
    std::fs::write(&cfg, toml)?;
    let loaded = Settings::load_with_env(Some(&cfg), Vec::<(String, String)>::new())?;
    let app = App::build(loaded.settings).await?;
    app.sync_config_feeds(Utc::now()).await?;
    app.poll_all_once(Utc::now()).await?;
    let before = peak_rss_mib();
    let started = Instant::now();
    let report = app.fulltext_once(Utc::now()).await?;
    let secs = started.elapsed().as_secs_f64();
    // The markup page is one long listing of teasers, refused as no
    // article after extraction; what counts is that every page was worked.
    ensure!(
        report.taken == args.concurrent && report.deferred == 0,
        "expected {} pages worked: {report:?}",
        args.concurrent
    );
    println!(
        "daemon path, {} pages of {} MiB ({:?}), extract.max_concurrent = {}: {secs:.1}s, \
         stored {}, without text {:?}, peak RSS {:.0} MiB (before the full text: {before:.0} MiB)",
        args.concurrent,
        args.bytes >> 20,
        args.shape,
        args.concurrent,
        report.stored,
        report.without_text,
        peak_rss_mib(),
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !(args.daemon || args.serve_only) {
        alone(&args);
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.serve_only {
        rt.block_on(serve(&args))
    } else {
        rt.block_on(daemon(&args))
    }
}
