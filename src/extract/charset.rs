//! Byte-to-text decoding for fetched pages.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How far into the body a `<meta charset>` declaration is looked for; the HTML
/// spec's prescan uses 1024 bytes, but real pages often put large inline
/// scripts before it, so a little more slack recovers them.
const PRESCAN_LIMIT: usize = 4096;

/// Decodes a fetched body to text. Priority follows browsers: the HTTP header
/// wins, then a BOM, then an in-document declaration, then statistical
/// detection, because servers are more often right than page templates.
/// Borrows `body` when it is UTF-8 already: a page at the body cap is not
/// copied just to be read.
pub fn decode_html<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let encoding = content_type
        .and_then(charset_from_content_type)
        .or_else(|| Encoding::for_bom(body).map(|(enc, _)| enc))
        .or_else(|| charset_from_meta(&body[..body.len().min(PRESCAN_LIMIT)]))
        .unwrap_or_else(|| detect(body));
    // `decode` sniffs and strips a BOM itself, which keeps a stray UTF-8 BOM
    // out of the text even when the header named another charset.
    let (text, _, _) = encoding.decode(body);
    text
}

fn label_to_encoding(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let enc = Encoding::for_label(label.as_bytes())?;
    // A page cannot meaningfully declare UTF-16 inside ASCII-compatible bytes
    // (the spec maps it to UTF-8 for the same reason).
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        return Some(UTF_8);
    }
    Some(enc)
}

fn charset_from_content_type(ct: &str) -> Option<&'static Encoding> {
    ct.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("charset") {
            label_to_encoding(value)
        } else {
            None
        }
    })
}

/// Finds `charset=` inside `<meta ...>` tags (covers both `<meta charset>` and
/// the `http-equiv` form), working on bytes so a not-yet-known encoding does
/// not matter.
fn charset_from_meta(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut pos = 0;
    while let Some(off) = find(&lower[pos..], b"<meta") {
        let start = pos + off;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + b"charset".len()..];
            let rest = trim_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_start(rest);
                let rest = rest
                    .strip_prefix(b"\"")
                    .or_else(|| rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'/' | b'>'))
                    .unwrap_or(rest.len());
                let enc = std::str::from_utf8(&rest[..len])
                    .ok()
                    .and_then(label_to_encoding);
                if enc.is_some() {
                    return enc;
                }
            }
        }
        pos = end;
        if pos >= lower.len() {
            break;
        }
    }
    None
}

fn detect(body: &[u8]) -> &'static Encoding {
    // Valid UTF-8 is overwhelmingly likely to be UTF-8; checking first keeps
    // chardetng from guessing a legacy encoding for short pure-ASCII pages.
    if std::str::from_utf8(body).is_ok() {
        return UTF_8;
    }
    let mut det = chardetng::EncodingDetector::new();
    det.feed(body, true);
    let enc = det.guess(None, true);
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        WINDOWS_1252
    } else {
        enc
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(enc: &'static Encoding, s: &str) -> Vec<u8> {
        let (bytes, _, had_errors) = enc.encode(s);
        assert!(!had_errors, "sample not representable in {}", enc.name());
        bytes.into_owned()
    }

    #[test]
    fn shift_jis_is_decoded_from_meta_charset() {
        let page = "<html><head><meta charset=\"Shift_JIS\"><title>ニュース</title></head><body><p>東京で新しい技術が発表されました。</p></body></html>";
        let bytes = encode(encoding_rs::SHIFT_JIS, page);
        let out = decode_html(&bytes, None);
        assert!(out.contains("東京で新しい技術が発表されました。"));
    }

    #[test]
    fn gbk_is_decoded_from_http_header_charset() {
        let page = "<html><body><p>北京今天发布了新的经济数据，市场反应积极。</p></body></html>";
        let bytes = encode(encoding_rs::GBK, page);
        let out = decode_html(&bytes, Some("text/html; charset=GBK"));
        assert!(out.contains("北京今天发布了新的经济数据"));
    }

    #[test]
    fn windows_1251_is_decoded_from_http_equiv_meta() {
        let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head><body><p>Москва сегодня объявила о новых мерах.</p></body></html>";
        let bytes = encode(encoding_rs::WINDOWS_1251, page);
        let out = decode_html(&bytes, None);
        assert!(out.contains("Москва сегодня объявила о новых мерах."));
    }

    #[test]
    fn iso_8859_1_is_treated_as_windows_1252() {
        let page = "<p>Café “quoted” – naïve</p>";
        let bytes = encode(WINDOWS_1252, page);
        let out = decode_html(&bytes, Some("text/html; charset=ISO-8859-1"));
        assert!(out.contains("Café “quoted” – naïve"));
    }

    #[test]
    fn undeclared_legacy_cyrillic_is_detected() {
        let page = "<html><body><p>Правительство страны приняло решение о повышении пенсий и зарплат бюджетникам в следующем году.</p></body></html>";
        let bytes = encode(encoding_rs::WINDOWS_1251, page);
        let out = decode_html(&bytes, None);
        assert!(out.contains("Правительство страны приняло решение"));
    }

    #[test]
    fn header_charset_wins_over_meta() {
        let page = "<meta charset=\"iso-8859-1\"><p>Grüße</p>";
        let out = decode_html(page.as_bytes(), Some("text/html; charset=utf-8"));
        assert!(out.contains("Grüße"));
    }

    #[test]
    fn utf8_bom_is_honoured_and_stripped() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<p>Ünïcödé</p>".as_bytes());
        let out = decode_html(&bytes, None);
        assert_eq!(out, "<p>Ünïcödé</p>");
    }
}
