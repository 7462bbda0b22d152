//! Feed bytes to UTF-8 before feed-rs sees them.
//!
//! feed-rs decodes by the XML declaration alone, so a charset given only in
//! the HTTP header, a header that overrides the declaration (RFC 7303 §8.1),
//! and UTF-16/UTF-32 without a declaration all fail or turn into mojibake.
//! The order is feedparser's: byte order mark, HTTP header, XML declaration,
//! then detection; a candidate that does not decode cleanly gives way to the
//! next one.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// The document as UTF-8, with any XML declaration saying so: feed-rs would
/// otherwise decode the already-decoded text a second time.
pub(super) fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let text = decode(body, content_type);
    match declaration_encoding(text.as_bytes()) {
        Some((label, range)) if !label.eq_ignore_ascii_case(b"utf-8") => {
            let mut fixed = String::with_capacity(text.len());
            fixed.push_str(&text[..range.start]);
            fixed.push_str("utf-8");
            fixed.push_str(&text[range.end..]);
            Cow::Owned(fixed)
        }
        _ => text,
    }
}

fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some(text) = utf32(body) {
        return Cow::Owned(text);
    }
    if let Some((encoding, bom)) = Encoding::for_bom(body) {
        return encoding.decode_without_bom_handling(&body[bom..]).0;
    }
    let header = content_type.and_then(header_charset);
    let declared = declaration_encoding(body).and_then(|(label, _)| Encoding::for_label(label));
    // Zero bytes around `<?` are UTF-16 whatever a header says: they would
    // decode "cleanly" as UTF-8 NULs.
    for encoding in [sniff_utf16(body), header, declared, Some(UTF_8)]
        .into_iter()
        .flatten()
    {
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
            return text;
        }
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    detector
        .guess(None, true)
        .decode_without_bom_handling(body)
        .0
}

/// `charset` of a Content-Type header value.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| Encoding::for_label(value.trim().trim_matches(['"', '\'']).as_bytes()))
            .flatten()
    })
}

/// UTF-16 without a byte order mark, known by where the zero bytes of `<?` sit.
fn sniff_utf16(body: &[u8]) -> Option<&'static Encoding> {
    match body {
        [0, b'<', 0, b'?' | b'r' | b'f' | b'R', ..] => Some(UTF_16BE),
        [b'<', 0, b'?' | b'r' | b'f' | b'R', 0, ..] => Some(UTF_16LE),
        _ => None,
    }
}

/// encoding_rs has no UTF-32 (the Encoding Standard dropped it); feeds in it exist.
fn utf32(body: &[u8]) -> Option<String> {
    let big_endian = match body {
        [0, 0, 0xFE, 0xFF, ..] | [0, 0, 0, b'<', ..] => true,
        [0xFF, 0xFE, 0, 0, ..] | [b'<', 0, 0, 0, ..] => false,
        _ => return None,
    };
    let mut out = String::with_capacity(body.len() / 4);
    for unit in body.chunks_exact(4) {
        let bytes = [unit[0], unit[1], unit[2], unit[3]];
        let code = if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        };
        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Some(
        out.strip_prefix('\u{feff}')
            .map(str::to_owned)
            .unwrap_or(out),
    )
}

/// The `encoding` label of a leading XML declaration and where it sits.
fn declaration_encoding(body: &[u8]) -> Option<(&[u8], std::ops::Range<usize>)> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &body[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = &head[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let eq = rest.iter().position(|&b| b == b'=')?;
    let after_eq = &rest[eq + 1..];
    let quote_at = after_eq.iter().position(|&b| b == b'"' || b == b'\'')?;
    let quote = after_eq[quote_at];
    let value = &after_eq[quote_at + 1..];
    let len = value.iter().position(|&b| b == quote)?;
    let from = start + at + 8 + eq + 1 + quote_at + 1;
    Some((&body[from..from + len], from..from + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charset_given_only_in_the_header_is_used() {
        let body = b"<rss><channel><title>Caf\xe9</title></channel></rss>";
        let text = to_utf8(body, Some("application/rss+xml; charset=ISO-8859-1"));
        assert!(text.contains("Café"), "{text}");
    }

    #[test]
    fn the_header_overrides_the_declaration_and_the_declaration_is_rewritten() {
        let body = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><rss><title>Café</title></rss>";
        let text = to_utf8(body.as_bytes(), Some("text/xml; charset=utf-8"));
        assert!(text.contains("Café"), "{text}");
        assert!(text.contains("encoding=\"utf-8\""), "{text}");
    }

    #[test]
    fn utf16_and_utf32_without_a_declaration_are_detected() {
        let doc = "<rss><title>Ünïcode</title></rss>";
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(to_utf8(&le, None), doc);
        let be32: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        assert_eq!(to_utf8(&be32, None), doc);
    }
}
