//! Page-kind classifier against WCXB's `page_type` labels: a confusion table
//! and the accuracy.
//!
//! cargo run --release --example page_kinds -- ../shared/extraction-wcxb-dev

use std::collections::BTreeMap;
use std::io::Read;

use newsd::extract::{decode_html, extract, ExtractOptions, PageKind};

/// WCXB's seven labels, in the order of its README.
const LABELS: [&str; 7] = [
    "article",
    "service",
    "product",
    "collection",
    "forum",
    "listing",
    "documentation",
];

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/extraction-wcxb-dev".into());
    let dir = std::path::Path::new(&dir);
    let gt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json"))?)?;
    let pages = gt
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("ground-truth.json is not an object"))?;
    // truth -> predicted -> pages
    let mut table: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let (mut right, mut total) = (0, 0);
    let verbose = std::env::var_os("PAGE_KINDS_VERBOSE").is_some();
    for (id, page) in pages {
        let truth = page["page_type"].as_str().unwrap_or("article").to_string();
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(
            dir.join("html").join(format!("{id}.html.gz")),
        )?);
        let mut bytes = Vec::new();
        gz.read_to_end(&mut bytes)?;
        let html = decode_html(&bytes, None);
        let url = page["url"].as_str().and_then(|u| url::Url::parse(u).ok());
        let kind = extract(&html, &ExtractOptions { url }).page_kind;
        // Kinds WCXB does not label count as the label they stand for: a
        // live blog, video or gallery page is an article to it, a wall is
        // whatever it hides (and so always wrong).
        let predicted = match kind {
            PageKind::LiveBlog | PageKind::Video | PageKind::Gallery => "article",
            k => k.as_str(),
        };
        if predicted == truth {
            right += 1;
        } else if verbose {
            eprintln!("{id}\t{truth}\t{}\t{}", kind.as_str(), page["url"]);
        }
        total += 1;
        *table
            .entry(truth)
            .or_default()
            .entry(predicted)
            .or_default() += 1;
    }
    let mut columns: Vec<&str> = LABELS.to_vec();
    for row in table.values() {
        for k in row.keys() {
            if !columns.contains(k) {
                columns.push(k);
            }
        }
    }
    println!("| truth \\ predicted | {} |", columns.join(" | "));
    println!("|---|{}", "---:|".repeat(columns.len()));
    for label in LABELS {
        let row = table.get(label).cloned().unwrap_or_default();
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(c).copied().unwrap_or(0).to_string())
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    println!(
        "\naccuracy {right}/{total} = {:.3}",
        right as f64 / total.max(1) as f64
    );
    Ok(())
}
