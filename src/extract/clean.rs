//! General boilerplate-removal rules applied to the readability output.
//!
//! Readability-style scoring picks the right container but keeps whatever
//! else lives inside it: captions, share bars, newsletter boxes, bylines,
//! "related" lists and author bios. The rules here remove those by structure
//! (tags, class/id vocabulary, link density) and by short-line phrasing.

use std::sync::LazyLock;

use dom_query::{Document, NodeRef};
use regex::Regex;
use url::Url;

use super::dom::{never_regex, select_nodes};
use super::text::norm_text;

/// Tags that never carry article prose.
pub(crate) const DROP_TAGS: &str =
    "script, style, noscript, template, form, button, input, select, \
    textarea, label, nav, aside, footer, iframe, svg, canvas, dialog, menu, \
    figure, figcaption, picture, video, audio, object, embed, \
    [hidden], [aria-hidden=true], [role=navigation], [role=complementary], \
    [role=button], [role=dialog], [role=alert]";

/// Class/id vocabulary of non-article widgets. Matched against whole
/// hyphen/underscore-separated tokens' prefixes to avoid hitting e.g.
/// "shareholder" prose wrappers.
static BOILERPLATE_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(^|[\s_-])(share|sharing|social|newsletter|subscri|signup|sign-up|related|recommend|promo|advert|ads?|ad-slot|adunit|sponsor|outbrain|taboola|comments?|disqus|byline|author-?(bio|info|box|card)|about-?the-?author|bio|caption|credit|gallery|slideshow|carousel|breadcrumbs?|tags?|tag-?list|topics|keywords|toolbar|tools|print|meta|dateline|timestamp|date|published|updated|more-?(stories|from|news|articles)|read-?more|popular|trending|most-?(read|popular|viewed)|widget|sidebar|rail|footer|header|nav|menu|pagination|pager|next-?prev|prev-?next|affiliate|disclaimer|disclosure|inline-?(ad|promo)|video|player|modal|overlay|popup|cookie|consent|paywall|subscription|reprint|rating|reactions|follow|jump-?link|toc|table-?of-?contents|skip)($|[\s_-])",
    )
    .unwrap_or_else(|_| never_regex())
});

/// Short standalone lines that are site furniture, not prose.
static BOILERPLATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(
            (photo|image|picture|foto|video|graphic|illustration|source|credit|caption)s?\s*(credit)?\s*[:|©]
          | \(?(image|photo)\s*(credit)?:?\s*©
          | ©
          | copyright\s*(©|ⓒ|@|\(c\)|\d{4})
          | copyright\b.{0,60}\b(19|20)\d{2}\b
          | all\ rights\ reserved
          | image\ \d+\s*(of|/)?\s*\d+
          | \d+\s*(of|/)\s*\d+\s*$
          | \d+of\d+\p{Lu}
          | advert(isement)?$
          | sponsored
          | caption$ | close$ | print$ | email$ | share$ | comments?$ | tweet$ | save$
          | (share|tweet|pin|email)\ (this|on|via)\b
          | sharing\ is\ caring
          | (click|tap)\ here
          | (read|see|view|watch|listen)\ (more|also|next|the\ full|full)\b
          | (also\ read|read\ also|leggi\ anche|lees\ ook|lire\ aussi|lea\ también|leia\ também|auch\ interessant)
          | related\s*(:|$)
          | related\ (articles?|stories|posts?|content|coverage|links?|reading|videos?)\b
          | (you\ (may|might)\ (also\ )?like|more\ (from|on|stories|news|like\ this|in\b)|recommended|don'?t\ miss|trending|most\ (read|popular|viewed)|popular\ (posts?|stories))(\ \S+){0,3}\s*[:.…!]*$
          | (sign\ up|subscribe)\b
          | get\ (our|the)\ .{0,40}(newsletter|inbox|email)
          | (follow\ (us|him|her|them|me)\b)
          | (want\ more\b)
          | \(?(image|photo|picture)\s+(credit|courtesy|source)
          | .{0,80}\b(sign\ up|subscribe|delivered|straight\ to)\b.{0,80}\b(newsletters?|inbox)\b
          | .{0,80}\b(newsletters?|inbox)\b.{0,80}\b(sign\ up|subscribe|delivered)\b
          | .{0,120}\bfollow\ (him|her|them|us|me)\ on\b
          | (this\ (post|article|page)\ (may\ )?contains?\ affiliate)
          | (order\ reprints|text\ size|print\ article|reprints?\ &?\ permissions)
          | (post\ (a\ )?comment|leave\ a\ (comment|reply)|add\ (a\ )?comment|comments?\ \(\d*|\d+\ comments?$)
          | (tell\ us\ what\ you\ think)
          | (this\ slideshow\ requires)
          | (write\ to\ .{1,40}\ at\ \S+@)
          | .{1,60}\ contributed\ (reporting|to\ this\ (report|article|story))
          | filed\ under\b
          | .{0,80}\b(tags|categor(y|ies|ia|ie|ía))\s*:
          | \[[a-z_-]+(\s[^\]]*)?\].*\[/[a-z_-]+\]
          | (добавить\ (отзыв|комментарий)|оставить\ комментарий|kommentar\ schreiben|laisser\ un\ commentaire|deixe\ um\ comentário|deja\ un\ comentario|lascia\ un\ commento)
          | (have\ a\ (news\ )?tip\b)
          | (about\ the\ author$)
          | (loading|please\ wait)\s*(\.\.\.|…)?$
          | \(?(reporting|editing|additional\ reporting|writing|compiled)\ by\b
          | home\s*(›|»|>|/|\|)
        )",
    )
    .unwrap_or_else(|_| never_regex())
});

/// Controls of shop and listing pages rendered as text: skip links,
/// sorting and filtering, cart and wish-list buttons, pagers.
static UI_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(
            skip\ to\ (the\ )?(main\ )?(content|navigation|search|footer)
          | (sort|filter)(\ (and|&)\ (sort|filter))?(\ by\b.*)?:?
          | (add|move)\ (.{1,80}\ )?to\ (cart|bag|basket|wish\ ?list|favou?rites|compare|registry)
          | (leave|write|read)\ a\ review | (\d+\ )?reviews?
          | price\ alert | quick\ (view|shop|add|look) | (load|show|view|see)\ (more|less|all)(\ \S+){0,2}
          | (clear|reset)\ (all|filters?) | (in|out\ of)\ stock | sold\ out | compare
          | (previous|next)(\ page)? | page\ \d+(\ of\ \d+)?
        )\s*[.:…›»>]*$",
    )
    .unwrap_or_else(|_| never_regex())
});

/// Dateline/byline furniture; only short lines, since prose can start the
/// same way ("Posted on Facebook, the video ...").
static META_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(
            (first\ )?(published|posted|updated|last\ updated|modified)\b\s*(:|on\b|\d|[a-z]{3,9}\.?\ \d)
          | .{0,60}\b(publicado|publié|veröffentlicht|pubblicato)\s+(por|par|von|da|em|en|le|am|il|:)
          | by\s*$
          | by\ (?-i:\p{Lu})[\p{L}.'-]+(\s+(?-i:\p{Lu})[\p{L}.'-]+){0,3}(\s*(,|and|&)\s*(?-i:\p{Lu})[\p{L}.'-]+(\s+(?-i:\p{Lu})[\p{L}.'-]+){0,3})*\s*(,.{0,40})?$
        )",
    )
    .unwrap_or_else(|_| never_regex())
});

/// Headings that open a trailing non-article section; everything after them
/// is dropped when they sit in the back half of the text.
static TAIL_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(related|you (may|might) (also )?like|more\b.{0,30}\b(stories|news|articles|posts|reads|videos)|more (from|on|like this)|recommended|read next|popular|most (read|popular|viewed)|trending|comments?|leave a (comment|reply)|about the author|latest (news|stories|posts)|top stories|further reading|want more|похожие|популярные|самые популярные|mehr zum thema|ähnliche artikel|weitere artikel|articles similaires|sur le même sujet|potrebbe interessarti|articoli correlati|artículos relacionados|te puede interesar|notícias relacionadas|gerelateerd|関連記事|相关文章|相关阅读|관련 기사)\b[^?,.]{0,30}[:.…?!]*$",
    )
    .unwrap_or_else(|_| never_regex())
});

static ABOUT_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(About|ABOUT|Über|À propos de|Acerca de|Sobre)\s+(?:\p{Lu}|\d)[\p{L}\p{N}&.,'-]*(\s+[\p{L}\p{N}&.,'()-]+){0,4}\s*:?$")
        .unwrap_or_else(|_| never_regex())
});

/// Dates written out on a line of their own ("Nov. 20, 2019 1:35 a.m.").
static DATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[^.!?]{0,40}\b((jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}|\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{4}|\d{1,4}[./-]\d{1,2}[./-]\d{2,4})[^!?]{0,60}$",
    )
    .unwrap_or_else(|_| never_regex())
});

fn attr_tokens(n: &NodeRef) -> String {
    let mut s = String::new();
    if let Some(c) = n.attr("class") {
        s.push_str(&c);
    }
    s.push(' ');
    if let Some(i) = n.attr("id") {
        s.push_str(&i);
    }
    s
}

fn link_chars(n: &NodeRef) -> usize {
    n.find(&["a"])
        .iter()
        .map(|a| norm_text(a).chars().count())
        .sum()
}

/// Structural pruning on the article fragment. With `headline_lists`, link
/// lists whose links read like headlines (several words each) are content:
/// on a listing or collection page they are what the page is for.
pub(crate) fn clean(frag: &Document, base: Option<&Url>, headline_lists: bool) {
    if let Some(sel) = frag.try_select(DROP_TAGS) {
        sel.remove();
    }

    let total = norm_text(&frag.root()).chars().count().max(1);

    // Widgets named by class/id; the share guard keeps a mislabelled
    // wrapper holding most of the article from being thrown away.
    let root = frag.root();
    let candidates: Vec<NodeRef> = root.descendants_it().filter(|n| n.is_element()).collect();
    for n in candidates {
        if n.parent().is_none() {
            continue; // already detached with an ancestor
        }
        let attrs = attr_tokens(&n);
        if attrs.trim().is_empty() || !BOILERPLATE_ATTR.is_match(&attrs) {
            continue;
        }
        let len = norm_text(&n).chars().count();
        if len * 10 < total * 3 {
            n.remove_from_parent();
        }
    }

    // Link lists and link-heavy blocks (related stories, tag clouds).
    for n in select_nodes(frag, "ul, ol, div, section, table")
        .iter()
        .rev()
    {
        if n.parent().is_none() {
            continue;
        }
        let text_len = norm_text(n).chars().count();
        if text_len == 0 {
            continue;
        }
        let links = link_chars(n);
        let density = links as f32 / text_len as f32;
        let name = n.node_name().map(|s| s.to_string()).unwrap_or_default();
        let limit = if name == "ul" || name == "ol" {
            0.6
        } else {
            0.75
        };
        if density > limit
            && text_len * 10 < total * 3
            && !(headline_lists && reads_like_headlines(n))
        {
            n.remove_from_parent();
        }
    }

    // A paragraph that is nothing but a link to the same site is a teaser
    // for another story; links elsewhere (sources, shops) are kept since
    // articles cite and recommend external pages on purpose.
    for n in select_nodes(frag, "p") {
        let text_len = norm_text(&n).chars().count();
        if text_len == 0 || text_len > 200 {
            continue;
        }
        let anchors = n.find(&["a"]);
        if anchors.is_empty() {
            continue;
        }
        let links = link_chars(&n);
        let all_internal = anchors
            .iter()
            .all(|a| a.attr("href").is_some_and(|h| is_internal(&h, base)));
        if all_internal && links * 10 >= text_len * 9 {
            n.remove_from_parent();
        }
    }
}

/// Links averaging at least `HEADLINE_WORDS` words: story or product
/// titles rather than menu entries ("Home", "World", "Sign in").
fn reads_like_headlines(n: &NodeRef) -> bool {
    const HEADLINE_WORDS: usize = 4;
    let anchors = n.find(&["a"]);
    let words: usize = anchors
        .iter()
        .map(|a| super::text::word_count(&norm_text(a)))
        .sum();
    !anchors.is_empty() && words >= HEADLINE_WORDS * anchors.len()
}

fn is_internal(href: &str, base: Option<&Url>) -> bool {
    let href = href.trim();
    match Url::parse(href) {
        Ok(u) => {
            let host = |h: &str| h.trim_start_matches("www.").to_ascii_lowercase();
            match (u.host_str(), base.and_then(Url::host_str)) {
                (Some(a), Some(b)) => host(a) == host(b),
                _ => false,
            }
        }
        // Relative links point at the same site.
        Err(_) => !href.is_empty() && !href.starts_with('#'),
    }
}

/// Datelines are mostly numbers, capitalised names and a few fixed words;
/// several ordinary lowercase words mean a sentence that merely has a date
/// in it ("On Nov. 5, 2019, voters approved the measure").
fn looks_like_prose(b: &str) -> bool {
    const DATELINE_WORDS: &[&str] = &[
        "updated",
        "posted",
        "published",
        "modified",
        "last",
        "first",
        "and",
        "the",
        "at",
        "on",
        "by",
        "min",
        "read",
        "ago",
        "edt",
        "est",
        "cst",
        "pst",
        "gmt",
        "utc",
    ];
    let lowercase_words = b
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3)
        .filter(|w| w.chars().all(char::is_lowercase))
        .filter(|w| !DATELINE_WORDS.contains(w))
        .count();
    lowercase_words >= 3
}

fn is_boilerplate_line(b: &str) -> bool {
    let len = b.chars().count();
    if len == 0 {
        return true;
    }
    if len <= 160 && BOILERPLATE_LINE.is_match(b) {
        return true;
    }
    if len <= 100 && META_LINE.is_match(b) {
        return true;
    }
    if len <= 120 && UI_LINE.is_match(b) {
        return true;
    }
    // Quote attributions ("— Name (@handle) November 18, 2019") are content.
    if len <= 100
        && !b.starts_with(['—', '–', '-'])
        && DATE_LINE.is_match(b)
        && !looks_like_prose(b)
    {
        return true;
    }
    if is_share_bar(b) {
        return true;
    }
    // Symbols only (separators, counters, zero-width spaces).
    !b.chars().any(char::is_alphabetic)
}

/// Line-level filtering of rendered blocks.
pub(crate) fn filter_blocks(blocks: Vec<String>, title: Option<&str>) -> Vec<String> {
    let total: usize = blocks.iter().map(|b| b.chars().count()).sum();
    let norm_title = title.map(normalize_for_compare);
    let mut out: Vec<String> = Vec::with_capacity(blocks.len());
    let mut seen = std::collections::HashSet::new();
    let mut pos = 0usize;
    for b in blocks {
        let len = b.chars().count();
        let here = pos;
        pos += len;
        let trimmed = b.trim();
        if here * 2 > total && len <= 60 && TAIL_HEADING.is_match(trimmed) {
            break;
        }
        // Press releases end with "About <Company>" boilerplate.
        if here * 100 > total * 65 && len <= 60 && ABOUT_HEADING.is_match(trimmed) {
            break;
        }
        if is_boilerplate_line(trimmed) {
            continue;
        }
        if here * 10 > total * 6 && len <= 400 && AUTHOR_BIO.is_match(trimmed) {
            continue;
        }
        let is_title = norm_title
            .as_ref()
            .is_some_and(|t| !t.is_empty() && normalize_for_compare(trimmed) == *t);
        if is_title {
            continue;
        }
        // Captions and pull quotes are often repeated verbatim.
        if len > 30 && !seen.insert(trimmed.to_string()) {
            continue;
        }
        out.push(b);
    }
    out
}

static SOCIAL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(facebook|twitter|whatsapp|pinterest|pint|pin|linkedin|reddit|telegram|email|e-mail|mail|share|tweet|print|messenger|flipboard|tumblr|vk|line|copy|link|sms|baixar|download|compartir|partager|teilen|condividi)$",
    )
    .unwrap_or_else(|_| never_regex())
});

/// A row of share-button labels ("Facebook Twitter WhatsApp Email").
fn is_share_bar(b: &str) -> bool {
    let words: Vec<&str> = b
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || words.len() > 8 {
        return false;
    }
    let social = words.iter().filter(|w| SOCIAL_WORD.is_match(w)).count();
    social >= 2 && social * 3 >= words.len() * 2
}

/// Author blurbs that close many articles ("Jane Doe is a freelance writer
/// living in ...").
static AUTHOR_BIO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?-i:\p{Lu})[\p{L}.'-]+(\s+(?-i:\p{Lu})[\p{L}.'-]+){0,3}\s+(is|was)\s+(an?|the)\s+([\p{L}-]+\s+){0,4}(writer|reporter|editor|journalist|correspondent|columnist|contributor|producer|author)\b",
    )
    .unwrap_or_else(|_| never_regex())
});

fn normalize_for_compare(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_compile() {
        assert!(BOILERPLATE_ATTR.is_match("share-bar"));
        assert!(BOILERPLATE_LINE.is_match("Photo: Jane Doe, AP"));
        assert!(TAIL_HEADING.is_match("Related stories"));
        assert!(TAIL_HEADING.is_match("You may also like..."));
        assert!(ABOUT_HEADING.is_match("About Example Corp"));
        assert!(!ABOUT_HEADING.is_match("About the findings, researchers said more"));
        assert!(DATE_LINE.is_match("Nov. 20, 2019Updated: Nov. 20, 2019 1:35 a.m."));
        assert!(AUTHOR_BIO.is_match("Jane Doe is a freelance writer living in Ohio"));
        assert!(SOCIAL_WORD.is_match("whatsapp"));
        assert!(UI_LINE.is_match("Add Paragon 68 Pack to Compare"));
        assert!(UI_LINE.is_match("Sort and Filter"));
        assert!(!UI_LINE.is_match("Compare the two plans before you buy"));
        assert!(META_LINE.is_match("By Jane Doe and John Roe"));
        assert!(META_LINE.is_match("Updated Nov 19, 6:55 AM; Posted Nov 19, 6:51 AM"));
    }

    #[test]
    fn shareholder_class_is_not_boilerplate() {
        assert!(!BOILERPLATE_ATTR.is_match("shareholder-letter"));
    }

    #[test]
    fn related_heading_in_tail_truncates() {
        let blocks = vec![
            "A long paragraph of real article text that goes on for a while.".to_string(),
            "Another long paragraph of real article text, still going strong.".to_string(),
            "Related".to_string(),
            "Some other story headline".to_string(),
        ];
        let out = filter_blocks(blocks, None);
        assert_eq!(out.len(), 2);
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn boilerplate_lines_are_dropped_but_prose_is_kept() {
        let blocks: Vec<String> = [
            "Share this article",
            "Photo: Jane Doe / Reuters",
            "Sign up for our daily newsletter",
            "Facebook Twitter WhatsApp Email",
            "Advertisement",
            "Posted on Facebook, the video drew thousands of angry comments from residents who said the council ignored them.",
            "Two of the three plans were rejected by the committee on Tuesday after a long debate.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = filter_blocks(blocks, None);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(!is_boilerplate_line(
            "On Nov. 5, 2019, voters approved the measure"
        ));
        assert!(is_boilerplate_line(
            "Updated 5:27 am CST, Wednesday, November 20, 2019"
        ));
        assert!(out[0].starts_with("Posted on Facebook"));
    }
}

#[cfg(test)]
mod headline_tests {
    use super::*;

    const PAGE: &str = "<div><p>An introduction to this week's stories, written out in full, with \
        enough prose around the list that the list is only a small part of the page.</p>\
        <p>A second paragraph explains how the stories were chosen and who wrote them.</p>\
        <ul><li><a href='/a'>Council approves the new bridge over the river</a></li>\
        <li><a href='/b'>Schools reopen after a week of heavy snow</a></li></ul></div>";

    #[test]
    fn headline_link_lists_are_kept_only_when_asked() {
        let doc = Document::fragment(PAGE);
        clean(&doc, None, true);
        assert!(norm_text(&doc.root()).contains("heavy snow"));
        let doc = Document::fragment(PAGE);
        clean(&doc, None, false);
        assert!(!norm_text(&doc.root()).contains("heavy snow"));
    }
}
