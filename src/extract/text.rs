//! Plain-text rendering of a (cleaned) DOM subtree.

use dom_query::NodeRef;

/// Elements that start a new paragraph in the rendered text.
pub(crate) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "footer"
            | "aside"
            | "nav"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "table"
            | "thead"
            | "tbody"
            | "tfoot"
            | "tr"
            | "figure"
            | "figcaption"
            | "hr"
            | "address"
            | "details"
            | "summary"
            | "center"
            | "body"
            | "html"
    )
}

#[derive(Default)]
struct Renderer {
    blocks: Vec<String>,
    cur: String,
    in_pre: usize,
}

impl Renderer {
    fn flush(&mut self) {
        let block = if self.in_pre > 0 {
            self.cur.trim_matches('\n').to_string()
        } else {
            // Collapse runs of spaces but keep `<br>` line breaks.
            self.cur
                .split('\n')
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        };
        if !block.trim().is_empty() {
            self.blocks.push(block);
        }
        self.cur.clear();
    }

    fn walk(&mut self, node: &NodeRef) {
        if node.is_text() {
            let t = node.text();
            if self.in_pre > 0 {
                self.cur.push_str(&t);
            } else {
                // Newlines in source are just whitespace outside <pre>.
                for (i, part) in t.split('\n').enumerate() {
                    if i > 0 {
                        self.cur.push(' ');
                    }
                    self.cur.push_str(part);
                }
            }
            return;
        }
        if !node.is_element() && !node.is_document() && !node.is_fragment() {
            return;
        }
        let name = node.node_name().map(|n| n.to_string()).unwrap_or_default();
        match name.as_str() {
            "script" | "style" | "noscript" | "template" | "head" | "title" => return,
            "br" => {
                self.cur.push('\n');
                return;
            }
            "td" | "th" => self.cur.push(' '),
            _ => {}
        }
        let block = is_block(&name);
        if block {
            self.flush();
        }
        if name == "pre" {
            self.in_pre += 1;
        }
        for child in node.children_it(false) {
            self.walk(&child);
        }
        if name == "pre" {
            self.in_pre -= 1;
        }
        if block {
            self.flush();
        }
    }
}

/// Renders paragraphs separated by a blank line.
pub(crate) fn render_blocks(node: &NodeRef) -> Vec<String> {
    let mut r = Renderer::default();
    r.walk(node);
    r.flush();
    r.blocks
}

/// Text of a node with whitespace collapsed.
pub(crate) fn norm_text(node: &NodeRef) -> String {
    node.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Counts words; CJK/Thai-style scripts without spaces count as one word per
/// two characters, roughly matching average word length in those languages.
pub fn word_count(text: &str) -> usize {
    let mut words = 0usize;
    let mut cjk_chars = 0usize;
    for token in text.split_whitespace() {
        let mut non_cjk = false;
        for c in token.chars() {
            if is_cjk(c) {
                cjk_chars += 1;
            } else if c.is_alphanumeric() {
                non_cjk = true;
            }
        }
        if non_cjk {
            words += 1;
        }
    }
    words + cjk_chars.div_ceil(2)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // kana
        | 0x3400..=0x4DBF // CJK ext A
        | 0x4E00..=0x9FFF // CJK unified
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF
        | 0x0E00..=0x0E7F // Thai
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_counted_by_whitespace() {
        assert_eq!(word_count("one two  three\nfour"), 4);
    }

    #[test]
    fn cjk_text_counts_two_characters_per_word() {
        assert_eq!(word_count("東京で新しい"), 3);
    }

    #[test]
    fn blocks_are_split_and_whitespace_collapsed() {
        let doc = dom_query::Document::fragment(
            "<div><p>Hello   <b>big</b>\n world</p><ul><li>a</li><li>b<br>c</li></ul></div>",
        );
        let blocks = render_blocks(&doc.root());
        assert_eq!(blocks, vec!["Hello big world", "a", "b\nc"]);
    }
}
