//! Peak RSS while extracting pages at the body cap, several at once, as the
//! full-text worker does with `extract.max_concurrent`.
//!
//! cargo run --release --example extract_memory -- [BYTES] [CONCURRENT]
//! (defaults: 10 MiB, `http.max_body_bytes`; 4, `extract.max_concurrent`)

use newsd::extract::{extract, ExtractOptions};

/// A page of ordinary article markup repeated up to `bytes`: paragraphs,
/// links and teaser blocks, the shapes the region pass and readability walk.
fn page(bytes: usize, seed: usize) -> String {
    let mut html = String::from("<html><head><title>Long page</title></head><body><main>");
    let mut i = seed;
    while html.len() < bytes {
        html.push_str(&format!(
            "<section><h2><a href=\"/s{i}\">Section {i}</a></h2><p>Paragraph {i} tells how the \
             council voted on the transit budget and what the residents said at the hearing \
             that evening.</p><ul><li><a href=\"/t{i}\">Related {i}</a></li></ul></section>"
        ));
        i += 1;
    }
    html.push_str("</main></body></html>");
    html
}

/// The process's peak resident set (VmHWM), in KiB; Linux only.
fn peak_rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bytes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10 << 20);
    let concurrent: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let before = peak_rss_kib().unwrap_or(0);
    let started = std::time::Instant::now();
    let words: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrent)
            .map(|n| {
                s.spawn(move || {
                    let html = page(bytes, n * 1_000_000);
                    extract(&html, &ExtractOptions::default()).word_count
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    println!(
        "{concurrent} pages of {} MiB at once: {:.1}s, words {words:?}, peak RSS {} MiB (before: {} MiB)",
        bytes >> 20,
        started.elapsed().as_secs_f64(),
        peak_rss_kib().unwrap_or(0) / 1024,
        before / 1024
    );
}
