//! A minimal, forgiving HTML tokenizer: enough to read tag attributes and short text runs
//! from Google's article interstitial and from feed item descriptions. Never panics.

/// One lexical piece of an HTML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A start tag with lowercased name and attributes (values entity-decoded).
    Start {
        name: String,
        attrs: Vec<(String, String)>,
    },
    /// An end tag with lowercased name.
    End { name: String },
    /// Raw (still entity-escaped) text between tags.
    Text(&'a str),
}

impl Token<'_> {
    /// The value of attribute `name` on a start tag.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        match self {
            Token::Start { attrs, .. } => attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// Iterator over the tokens of `src`. Comments, doctypes and the contents of
/// `<script>`/`<style>` are skipped.
pub(crate) struct Tokenizer<'a> {
    src: &'a str,
    pos: usize,
}

pub(crate) fn tokenize(src: &str) -> Tokenizer<'_> {
    Tokenizer { src, pos: 0 }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'_'
}

/// Case-insensitive search of an ASCII `needle` in `hay`, from byte `from`.
fn find_ascii_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() || from > h.len() - n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

impl<'a> Tokenizer<'a> {
    /// Parses a start tag whose name begins at `start` (just after `<`).
    fn start_tag(&mut self, start: usize) -> Token<'a> {
        let b = self.src.as_bytes();
        let mut i = start;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        let name = self.src[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let name_start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && b[i] != b'='
                && b[i] != b'>'
                && b[i] != b'/'
            {
                i += 1;
            }
            if i == name_start {
                // A stray byte such as `=` or a quote: skip one character.
                i += self.src[i..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            let attr_name = self.src[name_start..i].to_ascii_lowercase();
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut value = String::new();
            if j < b.len() && b[j] == b'=' {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                    let quote = b[j];
                    let vstart = j + 1;
                    let vend = b[vstart..]
                        .iter()
                        .position(|&c| c == quote)
                        .map_or(b.len(), |p| vstart + p);
                    value = decode_entities(&self.src[vstart..vend]);
                    i = (vend + 1).min(b.len());
                } else {
                    let vstart = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    value = decode_entities(&self.src[vstart..j]);
                    i = j;
                }
            }
            attrs.push((attr_name, value));
        }
        self.pos = i;
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            self.pos = find_ascii_ci(self.src, self.pos, &close).unwrap_or(self.src.len());
        }
        Token::Start { name, attrs }
    }
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let src = self.src;
            let b = src.as_bytes();
            let pos = self.pos;
            if pos >= b.len() {
                return None;
            }
            if b[pos] != b'<' {
                let end = b[pos..]
                    .iter()
                    .position(|&c| c == b'<')
                    .map_or(b.len(), |p| pos + p);
                self.pos = end;
                return Some(Token::Text(&src[pos..end]));
            }
            let rest = &src[pos + 1..];
            if let Some(comment) = rest.strip_prefix("!--") {
                self.pos = comment.find("-->").map_or(b.len(), |i| pos + 1 + 3 + i + 3);
                continue;
            }
            if rest.starts_with('!') || rest.starts_with('?') {
                self.pos = rest.find('>').map_or(b.len(), |i| pos + 1 + i + 1);
                continue;
            }
            if let Some(after) = rest.strip_prefix('/') {
                if after
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_alphabetic)
                {
                    let name_len = after
                        .bytes()
                        .position(|c| !is_name_byte(c))
                        .unwrap_or(after.len());
                    let name = after[..name_len].to_ascii_lowercase();
                    self.pos = after.find('>').map_or(b.len(), |i| pos + 2 + i + 1);
                    return Some(Token::End { name });
                }
            } else if rest.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
                return Some(self.start_tag(pos + 1));
            }
            // A lone `<` that does not open a tag: plain text up to the next `<`.
            let end = b[pos + 1..]
                .iter()
                .position(|&c| c == b'<')
                .map_or(b.len(), |p| pos + 1 + p);
            self.pos = end;
            return Some(Token::Text(&src[pos..end]));
        }
    }
}

/// One entity decoder for the crate: the feed module's.
pub(crate) use crate::feed::decode_entities;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_with_both_quote_styles_and_entities() {
        let toks: Vec<_> = tokenize(r#"<div a="1 &amp; 2" B='x>y' c=bare d>t</div>"#).collect();
        assert_eq!(toks[0].attr("a"), Some("1 & 2"));
        assert_eq!(toks[0].attr("b"), Some("x>y"));
        assert_eq!(toks[0].attr("c"), Some("bare"));
        assert_eq!(toks[0].attr("d"), Some(""));
        assert_eq!(toks[1], Token::Text("t"));
        assert_eq!(toks[2], Token::End { name: "div".into() });
    }

    #[test]
    fn comments_and_script_bodies_are_skipped() {
        let toks: Vec<_> =
            tokenize("<!-- <a x=1> --><script>var s='<b y=2>';</script><i>").collect();
        assert!(toks
            .iter()
            .all(|t| t.attr("x").is_none() && t.attr("y").is_none()));
        assert!(toks.contains(&Token::Start {
            name: "i".into(),
            attrs: vec![]
        }));
    }

    #[test]
    fn entities_decode_named_and_numeric_references_and_keep_unknown_ones() {
        assert_eq!(
            decode_entities("a&amp;b &#39;c&#x27; &bogus; & &nbsp;"),
            "a&b 'c' &bogus; & \u{a0}"
        );
    }
}
