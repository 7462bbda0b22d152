//! Speed reference for `BENCHMARKS.md`: dom_smoothie 0.19 alone (parse,
//! readability, plain text) over every `IN_DIR/<id>.html`, one thread, so
//! newsd's pages/s can be reported as a ratio to it in the same run on a
//! noisy machine.
//!
//! `cargo run --release --example extract_ref -- IN_DIR`

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: extract_ref IN_DIR"))?;
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("html") {
            pages.push(newsd::extract::decode_html(&std::fs::read(&path)?, None).into_owned());
        }
    }
    let start = Instant::now();
    let mut chars = 0usize;
    for html in &pages {
        let cfg = dom_smoothie::Config {
            text_mode: dom_smoothie::TextMode::Formatted,
            ..dom_smoothie::Config::default()
        };
        if let Ok(mut r) = dom_smoothie::Readability::new(html.as_str(), None, Some(cfg)) {
            if let Ok(article) = r.parse() {
                chars += article.text_content.len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "dom_smoothie alone: {} pages in {secs:.2}s, {:.1} pages/s ({chars} chars)",
        pages.len(),
        pages.len() as f64 / secs
    );
    Ok(())
}
