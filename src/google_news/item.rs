//! Helpers for feed items: title clean-up and the related-coverage cluster in descriptions.

use super::html::{decode_entities, tokenize, Token};

/// One `<a>`+`<font>` entry of an item description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedItem {
    pub title: String,
    /// The `href` as given (normally a Google News article link).
    pub url: String,
    /// The publisher name from `<font>`, when present.
    pub source: Option<String>,
    /// The Google article id `url` carries: set by `classify`, which knows
    /// the Google News base URL.
    pub google_id: Option<String>,
}

/// Trims `title` and removes exactly one trailing `" - " + source` (source trimmed too).
/// Headlines may themselves contain `" - "`, so nothing else is removed; a title that is
/// nothing but the suffix is returned trimmed, unchanged.
pub fn strip_source_suffix(title: &str, source: &str) -> String {
    let t = title.trim();
    let s = source.trim();
    if !s.is_empty() {
        if let Some(head) = t.strip_suffix(s).and_then(|h| h.strip_suffix(" - ")) {
            let head = head.trim_end();
            if !head.is_empty() {
                return head.to_owned();
            }
        }
    }
    t.to_owned()
}

/// Decodes entities, turns non-breaking spaces into spaces, collapses whitespace.
fn clean_text(raw: &str) -> String {
    decode_entities(raw)
        .replace('\u{a0}', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses an item description: either the cluster `<ol><li><a href=…>title</a>&nbsp;&nbsp;
/// <font>source</font></li>…</ol>` (the first entry is the item itself; all are returned)
/// or the single `<a>`+`<font>` form (one entry). Accepts the HTML as given by an XML
/// parser or still entity-escaped (`&lt;ol&gt;…`). Entries without an `href` are skipped;
/// the 2019 "View full coverage on Google News" entry (a `/stories/` link) is returned with
/// no source.
pub fn parse_description_cluster(description_html: &str) -> Vec<RelatedItem> {
    let decoded;
    let html = if !description_html.contains('<') && description_html.contains("&lt;") {
        decoded = decode_entities(description_html);
        decoded.as_str()
    } else {
        description_html
    };
    let mut items: Vec<RelatedItem> = Vec::new();
    let mut in_a: Option<(String, String)> = None;
    let mut in_font: Option<String> = None;
    let mut can_take_source = false;
    for tok in tokenize(html) {
        match &tok {
            Token::Start { name, .. } if name == "a" => {
                if let Some((url, text)) = in_a.take() {
                    push_item(&mut items, url, &text);
                }
                in_a = Some((
                    tok.attr("href").unwrap_or("").trim().to_owned(),
                    String::new(),
                ));
                can_take_source = false;
            }
            Token::End { name } if name == "a" => {
                if let Some((url, text)) = in_a.take() {
                    can_take_source = push_item(&mut items, url, &text);
                }
            }
            Token::Start { name, .. } if name == "font" && in_a.is_none() && can_take_source => {
                in_font = Some(String::new());
            }
            Token::End { name } if name == "font" => {
                if let Some(text) = in_font.take() {
                    let source = clean_text(&text);
                    if let Some(last) = items.last_mut() {
                        if !source.is_empty() {
                            last.source = Some(source);
                        }
                    }
                }
                can_take_source = false;
            }
            Token::Start { name, .. } | Token::End { name } if name == "li" || name == "ol" => {
                if let Some((url, text)) = in_a.take() {
                    push_item(&mut items, url, &text);
                }
                in_font = None;
                can_take_source = false;
            }
            Token::Text(t) => {
                if let Some((_, text)) = in_a.as_mut() {
                    text.push_str(t);
                } else if let Some(text) = in_font.as_mut() {
                    text.push_str(t);
                }
            }
            _ => {}
        }
    }
    if let Some((url, text)) = in_a.take() {
        push_item(&mut items, url, &text);
    }
    items
}

fn push_item(items: &mut Vec<RelatedItem>, url: String, raw_title: &str) -> bool {
    let title = clean_text(raw_title);
    if url.is_empty() {
        return false;
    }
    items.push(RelatedItem {
        title,
        url,
        source: None,
        google_id: None,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const JA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/ja_JP_top_stories_2024-02-06_prettified.xml"
    ));
    const EN_IN: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/en_IN_search_TCS_2026-09-06_excerpt_with_cluster.xml"
    ));
    const LEGACY: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/en_US_top_stories_2019-11-14_legacy_format.xml"
    ));

    /// Text of every `<tag>` element (raw, still XML-escaped), in order.
    fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
        let open = format!("<{tag}");
        let close = format!("</{tag}>");
        xml.split(&open)
            .skip(1)
            .filter_map(|p| {
                let start = p.find('>')? + 1;
                let end = p.find(&close)?;
                p.get(start..end)
            })
            .collect()
    }

    /// (title, source) of each item, XML-unescaped.
    fn items(xml: &str) -> Vec<(String, String)> {
        elements(xml, "item")
            .into_iter()
            .map(|item| {
                let t = elements(item, "title")
                    .first()
                    .map_or(String::new(), |s| decode_entities(s));
                let s = elements(item, "source")
                    .first()
                    .map_or(String::new(), |s| decode_entities(s));
                (t, s)
            })
            .collect()
    }

    #[test]
    fn japanese_titles_lose_exactly_the_source_suffix_and_padding() {
        let items = items(JA);
        assert_eq!(items.len(), 30);
        assert_eq!(
            strip_source_suffix(&items[0].0, &items[0].1),
            "盛山文科相、旧統一教会系から選挙支援 21年衆院選 関係者が証言：朝日新聞デジタル"
        );
        assert_eq!(
            strip_source_suffix(&items[1].0, &items[1].1),
            "雪の交通影響 首都高・東名など通行止め JR運転見合わせも | NHK"
        );
        for (t, s) in &items {
            let stripped = strip_source_suffix(t, s);
            assert!(stripped.len() < t.trim().len(), "{t:?} / {s:?}");
            assert_eq!(stripped.trim(), stripped);
        }
    }

    #[test]
    fn every_english_fixture_title_ends_with_its_source_and_loses_it() {
        let search = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/google-news/en_US_search_quoted_phrase_bears_ears_2026.xml"
        ));
        let all: Vec<_> = items(search).into_iter().chain(items(LEGACY)).collect();
        assert_eq!(all.len(), 92 + 38);
        for (t, s) in &all {
            assert_eq!(format!("{} - {s}", strip_source_suffix(t, s)), t.trim());
        }
        // Publisher names contain " - " too ("ABC News - Breaking News, Latest News and Videos").
        assert!(all.iter().any(|(_, s)| s.contains(" - ")));
    }

    #[test]
    fn a_publisher_name_repeated_in_the_headline_is_stripped_once() {
        // ja_JP fixture: "…（石川テレビ） - Yahoo!ニュース - Yahoo!ニュース".
        let (t, s) = items(JA)
            .into_iter()
            .find(|(t, _)| t.contains("輪島市"))
            .unwrap_or_default();
        assert_eq!(
            strip_source_suffix(&t, &s),
            "輪島市・中学生集団避難突然の終了で混乱 教育長「地元に戻れると伝えたつもり」不手際を謝罪（石川テレビ） - Yahoo!ニュース"
        );
    }

    #[test]
    fn indian_titles_keep_inner_dashes_and_lose_the_suffix() {
        let items = items(EN_IN);
        assert_eq!(
            strip_source_suffix(&items[0].0, &items[0].1),
            "TCS arm HyperVault to invest ₹70,000 crore in 1 GW AI data centre campus in Hyderabad"
        );
        assert_eq!(
            strip_source_suffix(&items[1].0, &items[1].1),
            "TCS’ HyperVault to establish large-scale AI data center campus in Telangana"
        );
        assert_eq!(
            strip_source_suffix(
                "U.S. - China trade talks stall - MarketWatch",
                "MarketWatch"
            ),
            "U.S. - China trade talks stall"
        );
        assert_eq!(strip_source_suffix("A - B", "C"), "A - B");
        assert_eq!(strip_source_suffix(" - Reuters", "Reuters"), "- Reuters");
        assert_eq!(
            strip_source_suffix("Headline -Reuters", "Reuters"),
            "Headline -Reuters"
        );
    }

    #[test]
    fn cluster_description_lists_the_item_first_then_related_coverage() {
        let desc = elements(EN_IN, "description")[1];
        assert!(desc.starts_with("&lt;ol&gt;"));
        let got = parse_description_cluster(desc);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0].title,
            "TCS arm HyperVault to invest ₹70,000 crore in 1 GW AI data centre campus in Hyderabad"
        );
        assert_eq!(got[0].source.as_deref(), Some("ET Manufacturing"));
        assert!(got[0]
            .url
            .starts_with("https://news.google.com/rss/articles/CBMi7gFB"));
        assert_eq!(got[3].source.as_deref(), Some("Bloomberg.com"));
        assert_eq!(
            got[2].title,
            "India's TCS unit to invest up to $7.4 billion in AI data center campus"
        );
        // The same description once unescaped by an XML parser gives the same result.
        assert_eq!(parse_description_cluster(&decode_entities(desc)), got);
    }

    #[test]
    fn single_link_description_yields_one_entry() {
        let desc = decode_entities(elements(EN_IN, "description")[2]);
        let got = parse_description_cluster(&desc);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].source.as_deref(), Some("Tata Consultancy Services"));
    }

    #[test]
    fn japanese_clusters_parse_from_the_prettified_fixture() {
        let desc = decode_entities(elements(JA, "description")[1]);
        let got = parse_description_cluster(&desc);
        assert_eq!(got.len(), 5);
        assert_eq!(
            got[1].title,
            "盛山文科相 旧統一から選挙支援か - Yahoo!ニュース"
        );
        assert_eq!(got[3].source.as_deref(), Some("日本海新聞"));
    }

    #[test]
    fn legacy_full_coverage_entry_is_returned_without_a_source() {
        let desc = decode_entities(elements(LEGACY, "description")[1]);
        let got = parse_description_cluster(&desc);
        let last = got.last().cloned().unwrap_or(RelatedItem {
            title: String::new(),
            url: String::new(),
            source: None,
            google_id: None,
        });
        assert_eq!(last.title, "View full coverage on Google News");
        assert!(last.url.contains("/stories/"));
        assert_eq!(last.source, None);
        assert!(got[0].source.is_some());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_descriptions_never_panic(s in ".{0,400}") {
            let _ = parse_description_cluster(&s);
            let _ = strip_source_suffix(&s, "x");
        }
    }
}
