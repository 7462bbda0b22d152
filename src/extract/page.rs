//! Page-kind classification: what a page is (an article, a live blog, a
//! listing, a shop's product...), or which interstitial stands between the
//! crawler and it.

use std::sync::LazyLock;

use dom_query::Document;
use regex::Regex;
use url::Url;

use super::dom::select_nodes;
use super::metadata::Metadata;
use super::text::render_blocks;

/// What a page is, decided before its text is kept or refused.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    #[default]
    Article,
    LiveBlog,
    Listing,
    Collection,
    Video,
    Gallery,
    Product,
    Forum,
    Service,
    Documentation,
    ConsentWall,
    BotCheck,
    LoginWall,
    EmptyShell,
}

impl PageKind {
    pub const ALL: [PageKind; 14] = [
        PageKind::Article,
        PageKind::LiveBlog,
        PageKind::Listing,
        PageKind::Collection,
        PageKind::Video,
        PageKind::Gallery,
        PageKind::Product,
        PageKind::Forum,
        PageKind::Service,
        PageKind::Documentation,
        PageKind::ConsentWall,
        PageKind::BotCheck,
        PageKind::LoginWall,
        PageKind::EmptyShell,
    ];

    /// The snake_case name used wherever a kind is printed or stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Article => "article",
            PageKind::LiveBlog => "live_blog",
            PageKind::Listing => "listing",
            PageKind::Collection => "collection",
            PageKind::Video => "video",
            PageKind::Gallery => "gallery",
            PageKind::Product => "product",
            PageKind::Forum => "forum",
            PageKind::Service => "service",
            PageKind::Documentation => "documentation",
            PageKind::ConsentWall => "consent_wall",
            PageKind::BotCheck => "bot_check",
            PageKind::LoginWall => "login_wall",
            PageKind::EmptyShell => "empty_shell",
        }
    }

    pub fn parse(s: &str) -> Option<PageKind> {
        PageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An interstitial: the page stands in the way of the content.
    pub fn is_wall(self) -> bool {
        matches!(
            self,
            PageKind::ConsentWall | PageKind::BotCheck | PageKind::LoginWall | PageKind::EmptyShell
        )
    }
}

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

    // Structured data is content the extractor reads, not an app to run.
    let scripts = select_nodes(doc, "script")
        .iter()
        .filter(|s| {
            !s.attr("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("application/ld+json"))
        })
        .count();
    let app_root = !select_nodes(
        doc,
        "#root, #app, #__next, #__nuxt, [data-reactroot], app-root",
    )
    .is_empty();
    if body_words < 40 && (scripts > 0 || app_root || EMPTY_SHELL.is_match(&haystack)) {
        return PageKind::EmptyShell;
    }

    // Nothing at all came out and nothing else explains it: a page with no
    // content is a shell whatever its scripts.
    if words == 0 && body_words < 40 {
        return PageKind::EmptyShell;
    }
    PageKind::Article
}

pub(crate) fn classify_if_short(html: &str, url: Option<&Url>, words: usize) -> PageKind {
    if words > WALL_MAX_WORDS {
        return PageKind::Article;
    }
    classify(&Document::from(html), url, words)
}

static ADD_TO_CART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)(add to (cart|bag|basket|trolley)|buy (it )?now|in den warenkorb|ajouter au panier|añadir al carrito|aggiungi al carrello|in winkelwagen)(?-u:\b)")
        .unwrap_or_else(|_| super::dom::never_regex())
});

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:[$€£¥₹]\s?\d[\d.,]*|(?-u:\b)\d[\d.,]*\s?(?:€|zł|Kč|(?:EUR|USD|GBP|kr)(?-u:\b)))",
    )
    .unwrap_or_else(|_| super::dom::never_regex())
});

static SERVICE_CTA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)(book a demo|request a demo|get a demo|schedule a demo|start (your )?free trial|try (it )?(for )?free|get started( for free| free| today)?|contact sales|talk to (sales|an expert)|get a (free )?quote|pricing plans?|per month|/mo(?-u:\b)|sign up free|our services|free consultation)(?-u:\b)")
        .unwrap_or_else(|_| super::dom::never_regex())
});

/// Engines that name themselves in `<meta name=generator>`.
const FORUM_ENGINES: &[&str] = &[
    "discourse",
    "phpbb",
    "vbulletin",
    "xenforo",
    "mybb",
    "invision",
    "nodebb",
    "flarum",
    "smf",
    "vanilla",
    "discuz",
];
const DOC_ENGINES: &[&str] = &[
    "docusaurus",
    "sphinx",
    "mkdocs",
    "gitbook",
    "vitepress",
    "docfx",
    "antora",
    "readthedocs",
    "nextra",
    "starlight",
    "mintlify",
    "jsdoc",
    "rustdoc",
    "doxygen",
];

fn has_type(types: &[String], names: &[&str]) -> bool {
    types
        .iter()
        .any(|t| names.iter().any(|n| t.eq_ignore_ascii_case(n)))
}

fn count(doc: &Document, sel: &str) -> usize {
    select_nodes(doc, sel).len()
}

/// How many elements carry a class naming one of `words` as a whole token
/// or a hyphen/underscore-separated part of one (`post`, `post-body`,
/// `forum_post`): forums repeat one such block per post.
fn class_parts(doc: &Document, words: &[&str]) -> usize {
    select_nodes(doc, "[class]")
        .iter()
        .filter(|n| {
            n.attr("class").is_some_and(|c| {
                c.split_whitespace().any(|tok| {
                    let tok = tok.to_ascii_lowercase();
                    tok.split(['-', '_'])
                        .next()
                        .is_some_and(|head| words.contains(&head))
                        && !tok.contains("comment")
                })
            })
        })
        .count()
}

/// What the page is, read from its declarations (JSON-LD, Open Graph, the
/// generator) and then its shape. Interstitials are classified separately
/// ([`classify`]) because they hide whatever the page would have been.
pub(crate) fn content_kind(doc: &Document, meta: &Metadata, url: Option<&Url>) -> PageKind {
    let types = &meta.ld_types;
    let og = meta.og_type.as_deref().unwrap_or_default();
    let generator = meta.generator.as_deref().unwrap_or_default();
    let declared_article = has_type(
        types,
        &[
            "NewsArticle",
            "Article",
            "BlogPosting",
            "ReportageNewsArticle",
            "AnalysisNewsArticle",
            "OpinionNewsArticle",
            "Report",
            "ScholarlyArticle",
        ],
    ) || og == "article";

    // Declarations first: a page that says what it is is usually right.
    if has_type(types, &["LiveBlogPosting"]) {
        return PageKind::LiveBlog;
    }
    if has_type(types, &["DiscussionForumPosting", "QAPage"])
        || FORUM_ENGINES.iter().any(|e| generator.contains(e))
    {
        return PageKind::Forum;
    }
    if has_type(
        types,
        &["TechArticle", "APIReference", "SoftwareSourceCode"],
    ) || DOC_ENGINES.iter().any(|e| generator.contains(e))
    {
        return PageKind::Documentation;
    }
    let product_declared = has_type(types, &["Product", "ProductGroup", "IndividualProduct"])
        || og.contains("product");
    if product_declared && !declared_article {
        return PageKind::Product;
    }
    if has_type(types, &["ImageGallery", "MediaGallery"]) || og.contains("gallery") {
        return PageKind::Gallery;
    }
    if og.starts_with("video") && !declared_article {
        return PageKind::Video;
    }
    if has_type(types, &["CollectionPage", "OfferCatalog"]) && !declared_article {
        return PageKind::Collection;
    }
    if has_type(types, &["ItemList", "SearchResultsPage"]) && !declared_article {
        return PageKind::Listing;
    }
    if declared_article {
        return PageKind::Article;
    }

    // Then the page's shape.
    let body = select_nodes(doc, "body")
        .first()
        .map(|b| b.text().to_string())
        .unwrap_or_default();
    let prices = PRICE.find_iter(&body).take(50).count();
    let cart_controls = count(
        doc,
        "[itemprop=price], [class*=add-to-cart i], [class*=addtocart i], [class*=add_to_cart i], \
         [name=add-to-cart], form[action*=cart]",
    );
    let cart_text = ADD_TO_CART.find_iter(&body).take(20).count();
    // Many same-shaped teasers: cards, list items with a heading link.
    let teasers = count(doc, "article")
        .max(count(doc, "h2 a[href], h3 a[href], h4 a[href]"))
        .max(count(
            doc,
            "[class*=card i] a[href] img, [class*=tile i] a[href] img",
        ));
    let product_cards = count(
        doc,
        "[class*=product i] a[href] img, [class*=product i] img",
    );
    if (cart_controls > 0 || cart_text > 0) && prices > 0 {
        // A shop's grid repeats prices and carts; its product page has one.
        if prices >= 8 && product_cards >= 8 {
            return PageKind::Collection;
        }
        return PageKind::Product;
    }
    if prices >= 8 && product_cards >= 8 {
        return PageKind::Collection;
    }

    // Blog themes class every article `post-*`, so only words that name a
    // reply count; and prose in long paragraphs is an article's, not a
    // thread's or a landing page's.
    let posts = class_parts(doc, &["message", "reply", "answer", "postbody"]);
    let long_paragraphs = select_nodes(doc, "p")
        .iter()
        .filter(|p| super::text::word_count(&p.text()) >= 40)
        .take(6)
        .count();
    let forum_posts = count(
        doc,
        "[itemtype*=DiscussionForumPosting], [itemtype*=Answer], [itemtype*=Question], \
         [data-post-id], [id^=post-], [id^=post_]",
    );
    if forum_posts >= 3 && long_paragraphs < 6
        || (posts >= 6 && count(doc, "time, [class*=date i]") >= 3 && teasers < 6)
    {
        return PageKind::Forum;
    }

    let path = url.map(Url::path).unwrap_or_default().to_ascii_lowercase();
    let host_doc = host_starts_with(
        url,
        &[
            "docs.",
            "developer.",
            "developers.",
            "wiki.",
            "help.",
            "support.",
        ],
    );
    let path_doc = [
        "/docs/",
        "/doc/",
        "/documentation/",
        "/reference/",
        "/api/",
        "/manual/",
        "/wiki/",
    ]
    .iter()
    .any(|p| path.contains(p) || path.starts_with(&p[..p.len() - 1]));
    let code_blocks = count(doc, "pre, code");
    if host_doc || path_doc || (code_blocks >= 6 && count(doc, "nav a[href], aside a[href]") >= 30)
    {
        return PageKind::Documentation;
    }

    // Related-story rails give articles many heading links too; two
    // paragraphs of prose are more than a listing's blurbs.
    if teasers >= 8 && long_paragraphs < 2 {
        return PageKind::Listing;
    }
    if meta.published_at.is_none() && long_paragraphs < 6 && SERVICE_CTA.is_match(&body) {
        return PageKind::Service;
    }
    PageKind::Article
}
