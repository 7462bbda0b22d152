//! Offline decoding of Google News article ids (`CBMi…`).
//!
//! An id is base64url (unpadded) of a protobuf message: field 1 (varint) is the kind
//! (19 = article, 32 = YouTube video), field 4 (bytes) the payload: the publisher URL in
//! old ids (before late July 2024), an opaque `AU_yqL…` token in new ones. An optional
//! field 26 carries an AMP URL/token and is ignored.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Longest id accepted (real ids are well under 1 KiB).
pub const MAX_ID_LEN: usize = 4096;

const KIND_ARTICLE: u64 = 19;
const KIND_VIDEO: u64 = 32;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// What an article id carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedId {
    /// Old format: the publisher URL itself (not verified by Google; treat as a hint).
    Url(String),
    /// New format: an opaque token (normally `AU_yqL…`); resolve the id online.
    Token(String),
}

/// Why an id could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("article id is empty")]
    Empty,
    #[error("article id is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("article id is not valid base64")]
    InvalidBase64,
    #[error("id is a YouTube video, not an article")]
    Video,
    #[error("id is not an article (kind {0})")]
    NotArticle(u64),
    #[error("id has no kind field")]
    MissingKind,
    #[error("id has no payload field")]
    MissingPayload,
    #[error("id is truncated")]
    Truncated,
    #[error("id is malformed: {0}")]
    Malformed(&'static str),
    #[error("id payload is not UTF-8")]
    InvalidUtf8,
}

/// Reads a protobuf varint at `*pos`.
fn read_varint(b: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let Some(&byte) = b.get(*pos) else {
            return Err(DecodeError::Truncated);
        };
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(DecodeError::Malformed("varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::Malformed("varint longer than 10 bytes"))
}

/// Reads a length-delimited field body at `*pos`.
fn read_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let len = read_varint(b, pos)?;
    let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let out = b.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    Ok(out)
}

/// Decodes base64url (or standard base64), padded or not, into bytes.
fn decode_base64(id: &str) -> Result<Vec<u8>, DecodeError> {
    let normalized: String = id
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    ENGINE
        .decode(normalized.as_bytes())
        .map_err(|_| DecodeError::InvalidBase64)
}

/// Decodes a Google News article id offline. Never panics.
///
/// Old ids yield [`DecodedId::Url`] (the first field-4 payload, an http(s) URL); new ids
/// yield [`DecodedId::Token`]. Any other UTF-8 payload is returned as a token too: it can
/// only be resolved online.
pub fn decode_article_id(id: &str) -> Result<DecodedId, DecodeError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(DecodeError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(DecodeError::TooLong);
    }
    let bytes = decode_base64(id)?;
    let mut pos = 0;
    let mut kind: Option<u64> = None;
    while pos < bytes.len() {
        let key = read_varint(&bytes, &mut pos)?;
        let field = key >> 3;
        match (field, key & 7) {
            (1, 0) => {
                let k = read_varint(&bytes, &mut pos)?;
                match k {
                    KIND_ARTICLE => kind = Some(k),
                    KIND_VIDEO => return Err(DecodeError::Video),
                    other => return Err(DecodeError::NotArticle(other)),
                }
            }
            (4, 2) => {
                if kind.is_none() {
                    return Err(DecodeError::MissingKind);
                }
                let payload = read_bytes(&bytes, &mut pos)?;
                let text = std::str::from_utf8(payload).map_err(|_| DecodeError::InvalidUtf8)?;
                if text.is_empty() {
                    return Err(DecodeError::MissingPayload);
                }
                return Ok(classify(text));
            }
            (0, _) => return Err(DecodeError::Malformed("field number 0")),
            (_, 0) => {
                read_varint(&bytes, &mut pos)?;
            }
            (_, 1) => pos = skip(&bytes, pos, 8)?,
            (_, 2) => {
                read_bytes(&bytes, &mut pos)?;
            }
            (_, 5) => pos = skip(&bytes, pos, 4)?,
            _ => return Err(DecodeError::Malformed("unsupported wire type")),
        }
    }
    Err(if kind.is_none() {
        DecodeError::MissingKind
    } else {
        DecodeError::MissingPayload
    })
}

fn skip(b: &[u8], pos: usize, n: usize) -> Result<usize, DecodeError> {
    let end = pos.checked_add(n).ok_or(DecodeError::Truncated)?;
    if end > b.len() {
        Err(DecodeError::Truncated)
    } else {
        Ok(end)
    }
}

fn classify(text: &str) -> DecodedId {
    let lower = text
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let is_url = (lower.starts_with("http://") || lower.starts_with("https://"))
        && url::Url::parse(text).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    if is_url {
        DecodedId::Url(text.to_owned())
    } else {
        DecodedId::Token(text.to_owned())
    }
}

/// Encodes an old-format article id for `url` (field 1 = 19, field 4 = url, empty field 26),
/// exactly as Google built them. Useful for tests and fixtures.
pub fn encode_old_format_id(url: &str) -> String {
    let mut b = vec![0x08, 0x13, 0x22];
    let mut len = url.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            b.push(byte);
            break;
        }
        b.push(byte | 0x80);
    }
    b.extend_from_slice(url.as_bytes());
    b.extend_from_slice(&[0xd2, 0x01, 0x00]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/ja_JP_top_stories_2024-02-06_prettified.xml"
    ));
    const EN_SEARCH: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/en_US_search_quoted_phrase_bears_ears_2026.xml"
    ));
    const EN_IN: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/en_IN_search_TCS_2026-09-06_excerpt_with_cluster.xml"
    ));

    /// All `…/articles/<id>` ids in a fixture, in order, deduplicated.
    fn ids(feed: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for part in feed.split("/articles/").skip(1) {
            let id: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    #[test]
    fn old_format_id_decodes_to_publisher_url() {
        // The first ja_JP item: its description pairs this id with the asahi.com article,
        // and its <source url> is https://www.asahi.com.
        let id =
            "CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1MyNTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA";
        assert!(JA.contains(&format!(
            "<guid isPermaLink=\"false\">\n    {id}\n   </guid>"
        )));
        assert_eq!(
            decode_article_id(id),
            Ok(DecodedId::Url(
                "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html".into()
            ))
        );
    }

    #[test]
    fn every_old_format_article_id_in_the_japanese_fixture_decodes_to_a_url() {
        let all = ids(JA);
        assert!(all.len() > 100, "{}", all.len());
        let mut urls = 0;
        for id in all.iter().filter(|id| id.starts_with("CBMi")) {
            match decode_article_id(id) {
                Ok(DecodedId::Url(u)) => {
                    assert!(u.starts_with("https://") || u.starts_with("http://"), "{u}");
                    assert!(!u.contains('\u{fffd}'));
                    urls += 1;
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!(urls > 100);
    }

    #[test]
    fn old_format_id_with_an_amp_second_payload_yields_the_first_url() {
        // From the ja_JP fixture (NEXCO 中日本): field 4 canonical URL, field 26 the AMP URL.
        let id = "CBMiRWh0dHBzOi8vd3d3LmUtbmV4Y28uY28uanAvbmV3cy9pbXBvcnRhbnRfaW5mby8yMDI0LzAyMDYvMDAwMTM0NTguaHRtbNIBSWh0dHBzOi8vd3d3LmUtbmV4Y28uY28uanAvYW1wL25ld3MvaW1wb3J0YW50X2luZm8vMjAyNC8wMjA2LzAwMDEzNDU4Lmh0bWw";
        assert!(JA.contains(id));
        assert_eq!(
            decode_article_id(id),
            Ok(DecodedId::Url(
                "https://www.e-nexco.co.jp/news/important_info/2024/0206/00013458.html".into()
            ))
        );
    }

    #[test]
    fn new_format_ids_decode_to_tokens() {
        let mut n = 0;
        for id in ids(EN_SEARCH).iter().chain(ids(EN_IN).iter()) {
            match decode_article_id(id) {
                Ok(DecodedId::Token(t)) => {
                    assert!(t.starts_with("AU_yqL"), "{t}");
                    n += 1;
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!(n > 90, "{n}");
    }

    #[test]
    fn new_format_token_of_128_bytes_or_more_uses_a_two_byte_length() {
        // en_IN fixture: `CBMi7gFB…` = 08 13 22 EE 01 …: a 238-byte token.
        let id = ids(EN_IN)
            .into_iter()
            .find(|i| i.starts_with("CBMi7gF"))
            .unwrap_or_default();
        match decode_article_id(&id) {
            Ok(DecodedId::Token(t)) => assert_eq!(t.len(), 238),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_2019_id_with_a_132_byte_url_uses_a_two_byte_varint() {
        // en_US 2019 fixture, first item: `CBMihAF…` = 08 13 22 84 01 …, with an AMP payload.
        let legacy = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/google-news/en_US_top_stories_2019-11-14_legacy_format.xml"
        ));
        let id = ids(legacy)
            .into_iter()
            .find(|i| i.starts_with("CBMihAF"))
            .unwrap_or_default();
        let want = "https://www.washingtonpost.com/politics/impeachment-hearings-live-updates/2019/11/14/703b27da-0660-11ea-8292-c46ee8cb3dce_story.html";
        assert_eq!(want.len(), 132);
        assert_eq!(decode_article_id(&id), Ok(DecodedId::Url(want.into())));
        for id in ids(legacy) {
            assert!(
                matches!(decode_article_id(&id), Ok(DecodedId::Url(_))),
                "{id}"
            );
        }
    }

    #[test]
    fn url_of_128_bytes_or_more_is_not_truncated() {
        let url = format!("https://example.com/{}", "a".repeat(300));
        let id = encode_old_format_id(&url);
        assert!(id.starts_with("CBMi"));
        assert_eq!(decode_article_id(&id), Ok(DecodedId::Url(url.clone())));
        let url = format!("https://example.com/{}", "b".repeat(128 - 20));
        assert_eq!(url.len(), 128);
        assert_eq!(
            decode_article_id(&encode_old_format_id(&url)),
            Ok(DecodedId::Url(url))
        );
    }

    #[test]
    fn non_ascii_url_decodes_as_utf8_not_latin1() {
        let url = "https://www.example.jp/ニュース/記事?q=東京&ü=1";
        let id = encode_old_format_id(url);
        assert_eq!(decode_article_id(&id), Ok(DecodedId::Url(url.into())));
    }

    #[test]
    fn padded_and_standard_alphabet_ids_are_tolerated() {
        let url = "https://example.com/?a=>>>&b=???";
        let id = encode_old_format_id(url);
        let standard = id.replace('-', "+").replace('_', "/");
        let padded = format!("{standard}{}", "=".repeat((4 - standard.len() % 4) % 4));
        assert_eq!(decode_article_id(&padded), Ok(DecodedId::Url(url.into())));
    }

    #[test]
    fn video_ids_from_the_japanese_fixture_are_rejected() {
        let id = "CCAiC3hNZnpnV3JuQ0ZRmAEB";
        assert!(JA.contains(id));
        assert_eq!(decode_article_id(id), Err(DecodeError::Video));
    }

    #[test]
    fn broken_ids_yield_typed_errors() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as E;
        assert_eq!(decode_article_id(""), Err(DecodeError::Empty));
        assert_eq!(decode_article_id("***"), Err(DecodeError::InvalidBase64));
        assert_eq!(
            decode_article_id(&E.encode([0x08, 0x05])),
            Err(DecodeError::NotArticle(5))
        );
        assert_eq!(
            decode_article_id(&E.encode([0x08, 0x13, 0x22, 0x10, b'h'])),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_article_id(&E.encode([0x08, 0x13, 0x22, 0x02, 0xe9, 0x41])),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode_article_id(&E.encode([0x08, 0x13])),
            Err(DecodeError::MissingPayload)
        );
        assert_eq!(
            decode_article_id(&E.encode([0x22, 0x01, b'a'])),
            Err(DecodeError::MissingKind)
        );
        assert!(matches!(
            decode_article_id(&E.encode([
                0x08, 0x13, 0x22, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            decode_article_id(&"A".repeat(MAX_ID_LEN + 1)),
            Err(DecodeError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,300}") {
            let _ = decode_article_id(&s);
        }

        #[test]
        fn arbitrary_bytes_behind_an_article_prefix_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            use base64::engine::general_purpose::URL_SAFE_NO_PAD as E;
            let mut b = vec![0x08, 0x13, 0x22];
            b.extend(tail);
            let _ = decode_article_id(&E.encode(&b));
        }

        #[test]
        fn any_url_round_trips_through_an_old_format_id(path in "[a-zA-Z0-9/._~%ぁ-ん-]{0,400}") {
            let url = format!("https://example.org/{path}");
            prop_assert_eq!(decode_article_id(&encode_old_format_id(&url)), Ok(DecodedId::Url(url)));
        }
    }
}
