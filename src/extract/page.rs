//! Page-kind classification: is this an article, or an interstitial that
//! stands between the crawler and one?

use std::sync::LazyLock;

use dom_query::Document;
use regex::Regex;
use url::Url;

use super::dom::select_nodes;
use super::text::render_blocks;
use super::PageKind;

/// Above this many extracted words a page is treated as an article no matter
/// what else it mentions: interstitials are short, and a real story about
/// CAPTCHAs or cookie law must not be misfiled.
const WALL_MAX_WORDS: usize = 150;

pub(crate) static CONSENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)before you continue|we value your privacy|(cookie|privacy) (consent|preferences|settings|choices)|(accept|allow|agree to) (all )?cookies|consent to (the use of )?(our )?cookies|manage (your )?(cookie|privacy|consent)|your privacy choices|we and our (\d+ )?partners|nous respectons votre vie privée|wir verwenden cookies|utilizziamo i cookie|utilizamos cookies",
    )
    .unwrap_or_else(|_| super::dom::never_regex())
});

static BOT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)captcha|verify (that )?you are (a )?human|are you a robot|not a robot|checking (if the site connection is secure|your browser)|just a moment\.\.\.|attention required|ddos protection|unusual traffic|access (to this page has been )?denied|press (&|and) hold|enable javascript and cookies to continue|cf-challenge|challenge-platform|request unsuccessful|incapsula|perimeterx|datadome|bot (detection|protection)|pardon our interruption",
    )
    .unwrap_or_else(|_| super::dom::never_regex())
});

static LOGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(sign|log) ?in to (continue|read|view|access)|(subscribe|subscription required|become a (member|subscriber)) to (continue|read|keep reading|unlock)|(continue|keep) reading (with|by) (a )?subscri|this (article|content|story) is (only )?(for|available to) (subscribers|members)|already (a subscriber|have an account)\??\s*(sign|log) ?in|create (a free |an )?account to (continue|read)|members only|subscriber[- ]exclusive",
    )
    .unwrap_or_else(|_| super::dom::never_regex())
});

static EMPTY_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(enable|turn on|requires?) javascript|javascript (is )?(disabled|required)|loading\.\.\.|you need to enable javascript")
        .unwrap_or_else(|_| super::dom::never_regex())
});

fn visible_text(doc: &Document) -> String {
    select_nodes(doc, "body")
        .first()
        .map(|b| render_blocks(b).join("\n"))
        .unwrap_or_default()
}

fn host_starts_with(url: Option<&Url>, prefixes: &[&str]) -> bool {
    url.and_then(Url::host_str)
        .is_some_and(|h| prefixes.iter().any(|p| h.starts_with(p)))
}

/// Below this many extracted words, wall phrasing anywhere in the page is
/// enough; between this and `WALL_MAX_WORDS` it must be in the title or in
/// the structure (a short article under a cookie banner stays an article).
const BARE_WORDS: usize = 60;

/// Classifies a page. `words` is the word count of the extracted article
/// text (0 when nothing was extracted).
pub(crate) fn classify(doc: &Document, url: Option<&Url>, words: usize) -> PageKind {
    if words > WALL_MAX_WORDS {
        return PageKind::Article;
    }
    let title = select_nodes(doc, "title")
        .first()
        .map(|t| t.text().to_string())
        .unwrap_or_default();
    let body = visible_text(doc);
    let body_words = super::text::word_count(&body);
    let haystack = format!("{title}\n{body}");

    // Interstitial-only markup (Cloudflare et al.) is decisive; CAPTCHA
    // widgets also sit in ordinary comment/contact forms, so they only count
    // on pages with almost no text.
    let challenge_markup = !select_nodes(
        doc,
        "#challenge-form, #cf-wrapper, .cf-browser-verification, #challenge-running, \
         script[src*=challenge-platform], form[action*=challenge]",
    )
    .is_empty();
    let captcha_widget = !select_nodes(
        doc,
        ".g-recaptcha, .h-captcha, iframe[src*=captcha], script[src*=captcha]",
    )
    .is_empty();
    let bare = words < BARE_WORDS;
    if challenge_markup
        || BOT.is_match(&title)
        || (bare && (captcha_widget || BOT.is_match(&haystack)))
    {
        return PageKind::BotCheck;
    }

    let consent_form = select_nodes(doc, "form[action]").iter().any(|f| {
        f.attr("action").is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("consent") || a.contains("cookie") || a.contains("gdpr")
        })
    });
    if consent_form
        || host_starts_with(url, &["consent.", "privacy.", "cookies."])
        || CONSENT.is_match(&title)
        || (bare && CONSENT.is_match(&haystack))
    {
        return PageKind::ConsentWall;
    }

    let password = !select_nodes(doc, "input[type=password i]").is_empty();
    if LOGIN.is_match(&title)
        || (bare && (LOGIN.is_match(&haystack) || password))
        || host_starts_with(url, &["login.", "accounts.", "signin.", "auth."])
    {
        return PageKind::LoginWall;
    }

    let scripts = select_nodes(doc, "script").len();
    let app_root = !select_nodes(
        doc,
        "#root, #app, #__next, #__nuxt, [data-reactroot], app-root",
    )
    .is_empty();
    if body_words < 40 && (scripts > 0 || app_root || EMPTY_SHELL.is_match(&haystack)) {
        return PageKind::EmptyShell;
    }

    if words < 30 {
        return PageKind::NotArticle;
    }
    PageKind::Article
}

pub(crate) fn classify_if_short(html: &str, url: Option<&Url>, words: usize) -> PageKind {
    if words > WALL_MAX_WORDS {
        return PageKind::Article;
    }
    classify(&Document::from(html), url, words)
}
