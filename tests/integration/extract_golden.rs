//! Golden pages: newsd's extraction of real pages scored against their
//! benchmark ground truth with the metric of the benchmarks' `score.py`
//! (4-token shingles; per-page precision and recall averaged; F1 of the
//! averages), failing when the set drops below a committed floor.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use newsd::extract::{decode_html, extract, ExtractOptions, Extracted, PageKind};
use serde_json::Value;

/// Measured 0.880 (all 42) and 0.960 (24 articles) when set, minus a margin
/// for harmless drift; raise them when extraction improves.
const FLOOR_ALL: f64 = 0.87;
const FLOOR_ARTICLES: f64 = 0.95;
/// Share of golden pages whose page kind is their benchmark label:
/// measured 0.714 (30 of 42) when set, WCXB dev as a whole 0.710, minus a
/// margin.
const FLOOR_KINDS: f64 = 0.66;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extract")
}

/// Maximal runs of word characters, as Python's `\w+` finds them.
fn tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .collect()
}

fn shingles(text: &str) -> HashMap<Vec<&str>, usize> {
    let toks = tokens(text);
    let mut counts = HashMap::new();
    if toks.is_empty() {
        return counts;
    }
    let n = 4.min(toks.len());
    for w in toks.windows(n) {
        *counts.entry(w.to_vec()).or_insert(0) += 1;
    }
    counts
}

/// (tp, fp, fn) of one page, each divided by their sum.
fn page_counts(truth: &str, pred: &str) -> (f64, f64, f64) {
    let t = shingles(truth);
    let p = shingles(pred);
    let tp: usize = t
        .iter()
        .map(|(k, &n)| n.min(p.get(k).copied().unwrap_or(0)))
        .sum();
    let fp = p.values().sum::<usize>() - tp;
    let fn_ = t.values().sum::<usize>() - tp;
    let total = (tp + fp + fn_) as f64;
    if total > 0.0 {
        (tp as f64 / total, fp as f64 / total, fn_ as f64 / total)
    } else {
        (0.0, 0.0, 0.0)
    }
}

fn ratio(hit: f64, miss: f64, other_miss: f64) -> f64 {
    if miss == 0.0 && other_miss == 0.0 {
        1.0
    } else if hit == 0.0 && miss == 0.0 {
        0.0
    } else {
        hit / (hit + miss)
    }
}

/// (F1, precision, recall) as `score.py` aggregates them.
fn aggregate(rows: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    let mean = |v: Vec<f64>| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let p = mean(
        rows.iter()
            .filter(|(tp, fp, _)| tp + fp > 0.0)
            .map(|&(tp, fp, fn_)| ratio(tp, fp, fn_))
            .collect(),
    );
    let r = mean(
        rows.iter()
            .filter(|(tp, _, fn_)| tp + fn_ > 0.0)
            .map(|&(tp, fp, fn_)| ratio(tp, fn_, fp))
            .collect(),
    );
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (f1, p, r)
}

#[test]
fn the_shingle_metric_matches_the_benchmark_scorer() {
    assert_eq!(tokens("It's a_b, 2024!"), vec!["It", "s", "a_b", "2024"]);
    assert_eq!(
        page_counts("one two three four", "one two three four"),
        (1.0, 0.0, 0.0)
    );
    let (tp, fp, fn_) = page_counts("a b c d e", "a b c d x");
    assert_eq!((tp, fp, fn_), (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0));
    let (f1, p, r) = aggregate(&[(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]);
    assert_eq!((p, r), (1.0, 0.5));
    assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
}

fn expected() -> HashMap<String, Value> {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON")
}

fn extract_fixture(name: &str, want: &Value) -> Extracted {
    let mut html = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(fixtures().join(format!("{name}.html.gz"))).expect("fixture"),
    )
    .read_to_end(&mut html)
    .expect("gzip");
    let url = want["url"].as_str().and_then(|u| url::Url::parse(u).ok());
    extract(&decode_html(&html, None), &ExtractOptions { url })
}

/// The benchmark label a kind stands for: the benchmarks file live blogs,
/// videos and galleries with articles, and label no walls.
fn label_of(kind: PageKind) -> &'static str {
    match kind {
        PageKind::LiveBlog | PageKind::Video | PageKind::Gallery => "article",
        k => k.as_str(),
    }
}

#[test]
fn golden_pages_are_classified_as_their_labelled_kind_at_least_as_often_as_the_floor() {
    let expected = expected();
    let mut names: Vec<&String> = expected.keys().collect();
    names.sort();
    let mut right = 0;
    let mut report = Vec::new();
    for name in &names {
        let want = &expected[name.as_str()];
        let label = want["page_type"].as_str().unwrap_or("article");
        let kind = extract_fixture(name, want).page_kind;
        if label_of(kind) == label {
            right += 1;
        } else {
            report.push(format!(
                "{name}: labelled {label}, classified {}",
                kind.as_str()
            ));
        }
    }
    let share = right as f64 / names.len() as f64;
    eprintln!(
        "{right}/{} pages of their labelled kind ({share:.3})\n{}",
        names.len(),
        report.join("\n")
    );
    assert!(
        share >= FLOOR_KINDS,
        "below the floor {FLOOR_KINDS}: {share:.3}\n{}",
        report.join("\n")
    );
    // No golden page is an interstitial: every one has its content.
    assert!(
        report.iter().all(|r| !r.contains("_wall")
            && !r.contains("bot_check")
            && !r.contains("empty_shell")),
        "{}",
        report.join("\n")
    );
}

#[test]
fn golden_pages_score_at_least_their_committed_floor() {
    let expected = expected();
    let mut all = Vec::new();
    let mut articles = Vec::new();
    let mut report = Vec::new();
    let mut names: Vec<&String> = expected.keys().collect();
    names.sort();
    for name in names {
        let want = &expected[name];
        let got = extract_fixture(name, want).text.unwrap_or_default();
        let row = page_counts(want["articleBody"].as_str().unwrap_or(""), &got);
        let (f1, _, _) = aggregate(&[row]);
        report.push(format!("{name} {} F1 {f1:.3}", want["page_type"]));
        all.push(row);
        if want["page_type"] == "article" {
            articles.push(row);
        }
    }
    let (f1_all, p_all, r_all) = aggregate(&all);
    let (f1_art, p_art, r_art) = aggregate(&articles);
    let summary = format!(
        "all {} pages: F1 {f1_all:.4} (P {p_all:.4} R {r_all:.4}); articles {}: F1 {f1_art:.4} (P {p_art:.4} R {r_art:.4})\n{}",
        all.len(),
        articles.len(),
        report.join("\n")
    );
    eprintln!("{summary}");
    assert_eq!(
        all.len(),
        42,
        "every fixture listed in expected.json is scored"
    );
    assert!(
        f1_all >= FLOOR_ALL,
        "below the floor {FLOOR_ALL}: {summary}"
    );
    assert!(
        f1_art >= FLOOR_ARTICLES,
        "below the floor {FLOOR_ARTICLES}: {summary}"
    );
}
