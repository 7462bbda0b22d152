//! OPML import and export of subscriptions.

use quick_xml::events::Event;

use crate::feed::decode_entities;
use crate::store::FeedRow;

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("malformed OPML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("no <outline xmlUrl=...> feed entries found")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub url: String,
    pub title: Option<String>,
}

/// Every `<outline xmlUrl>` at any depth (folders are flattened).
pub fn parse(text: &str) -> Result<Vec<Outline>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == b"outline" => {
                let mut url = None;
                let mut title = None;
                let mut text_attr = None;
                for a in e.attributes().flatten() {
                    let v = decode_entities(&String::from_utf8_lossy(&a.value));
                    match a.key.local_name().as_ref() {
                        b"xmlUrl" | b"xmlurl" => url = Some(v),
                        b"title" => title = Some(v),
                        b"text" => text_attr = Some(v),
                        _ => {}
                    }
                }
                if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
                    out.push(Outline {
                        url: url.trim().to_owned(),
                        title: title.or(text_attr).filter(|t| !t.trim().is_empty()),
                    });
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => {
                return Err(OpmlError::Malformed {
                    position: reader.error_position(),
                    message: e.to_string(),
                })
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(OpmlError::Empty);
    }
    Ok(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn write(feeds: &[FeedRow]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>newsd subscriptions</title></head>\n  <body>\n",
    );
    for f in feeds {
        let name = esc(f.display_name());
        s.push_str(&format!(
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"",
            esc(&f.url)
        ));
        if let Some(site) = &f.site_url {
            s.push_str(&format!(" htmlUrl=\"{}\"", esc(site)));
        }
        s.push_str("/>\n");
    }
    s.push_str("  </body>\n</opml>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_outlines_are_flattened_and_titles_kept() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><head/><body>
            <outline text="News"><outline text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
            <outline title="A &amp; B" text="x" xmlUrl="https://ab.example/feed"/></outline>
            <outline text="folder only"/></body></opml>"#;
        let o = parse(opml).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].title.as_deref(), Some("BBC"));
        assert_eq!(o[1].title.as_deref(), Some("A & B"));
    }

    #[test]
    fn malformed_or_empty_opml_is_a_clear_error() {
        assert!(matches!(
            parse("<opml><body><outline xmlUrl='x'></body>"),
            Err(OpmlError::Malformed { .. })
        ));
        assert!(matches!(
            parse("<opml><body></body></opml>"),
            Err(OpmlError::Empty)
        ));
    }
}
