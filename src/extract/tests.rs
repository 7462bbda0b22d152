//! End-to-end behaviour of `extract` on small hand-written pages.

use super::*;

fn para(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "<p>Paragraph {i} of the report explains how the city council voted on the new \
                 transit budget, what residents said at the hearing, and why the plan matters \
                 for commuters who rely on buses every single day.</p>"
            )
        })
        .collect()
}

fn article_page(extra_body: &str) -> String {
    format!(
        "<html lang=\"en\"><head><title>Council passes transit budget | City Paper</title>\
         <meta property=\"og:site_name\" content=\"City Paper\"></head><body>\
         <nav><a href=\"/\">Home</a><a href=\"/news\">News</a></nav>\
         <article><h1>Council passes transit budget</h1>{}{extra_body}\
         <div class=\"share-bar\"><a href=\"#\">Facebook</a> <a href=\"#\">Twitter</a></div>\
         </article><footer>Copyright 2024 City Paper</footer></body></html>",
        para(8)
    )
}

#[test]
fn article_text_is_extracted_without_navigation_or_footer() {
    let out = extract(&article_page(""), &ExtractOptions::default());
    let text = out.text.unwrap_or_default();
    assert!(text.contains("Paragraph 0 of the report"));
    assert!(text.contains("Paragraph 7 of the report"));
    assert!(!text.contains("Copyright"));
    assert!(!text.contains("Facebook"));
    assert_eq!(out.page_kind, PageKind::Article);
    assert_eq!(out.site_name.as_deref(), Some("City Paper"));
    assert!(out.word_count > 200);
}

#[test]
fn long_article_mentioning_captcha_stays_an_article() {
    let page = article_page(
        "<p>Researchers said the captcha system, which asks people to verify you are human, \
         is increasingly solved by bots.</p>",
    );
    let out = extract(&page, &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::Article);
}

#[test]
fn consent_wall_is_flagged_not_article() {
    let page = "<html><head><title>Before you continue</title></head><body>\
        <div><h1>Before you continue to Example</h1>\
        <p>We use cookies and data to deliver and maintain services.</p>\
        <form action=\"https://consent.example.com/save\" method=\"post\">\
        <button>Reject all</button><button>Accept all</button></form></div></body></html>";
    let url = url::Url::parse("https://consent.example.com/ml?continue=x").ok();
    let out = extract(page, &ExtractOptions { url });
    assert_eq!(out.page_kind, PageKind::ConsentWall);
}

#[test]
fn cloudflare_challenge_is_flagged_as_bot_check() {
    let page = "<html><head><title>Just a moment...</title></head><body>\
        <div id=\"cf-wrapper\"><h1>Checking your browser before accessing the site.</h1>\
        <form id=\"challenge-form\" action=\"/cdn-cgi/challenge-platform\"></form></div></body></html>";
    let out = extract(page, &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::BotCheck);
}

#[test]
fn login_form_page_is_flagged_as_login_wall() {
    let page = "<html><head><title>Sign in</title></head><body><h1>Sign in to continue reading</h1>\
        <form action=\"/login\"><input name=\"user\"><input type=\"password\" name=\"pw\"></form></body></html>";
    let out = extract(page, &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::LoginWall);
}

#[test]
fn javascript_shell_is_flagged_as_empty() {
    let page = "<html><head><title>News</title><script src=\"/app.js\"></script></head>\
        <body><div id=\"root\"></div><noscript>You need to enable JavaScript to run this app.</noscript></body></html>";
    let out = extract(page, &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::EmptyShell);
    assert_eq!(out.word_count, 0);
}

#[test]
fn paywalled_teaser_keeps_its_text_and_is_flagged_as_login_wall() {
    let page = "<html><head><title>Markets rally on rate hopes</title></head><body><article>\
        <h1>Markets rally on rate hopes</h1>\
        <p>Stocks rose sharply on Tuesday as investors bet that the central bank would cut \
        interest rates before the end of the year, lifting shares of banks and builders.</p>\
        <div class=\"paywall\"><p>Subscribe to continue reading this article.</p>\
        <p>Already a subscriber? Sign in</p></div></article></body></html>";
    let out = extract(page, &ExtractOptions::default());
    let text = out.text.unwrap_or_default();
    assert!(
        text.contains("Stocks rose sharply on Tuesday"),
        "teaser text: {text:?}"
    );
    assert!(!text.contains("Subscribe to continue"));
    assert_eq!(out.page_kind, PageKind::LoginWall);
}

#[test]
fn article_html_is_sanitized() {
    let page = article_page(
        "<p onclick=\"steal()\">Inline <a href=\"/more\">link</a> here and some more words to keep \
         this paragraph long enough.<img src=\"https://t.example/px.gif\" width=\"1\" height=\"1\"></p>\
         <script>alert(1)</script>",
    );
    let url = url::Url::parse("https://paper.example/story").ok();
    let out = extract(&page, &ExtractOptions { url });
    let html = out.html.unwrap_or_default();
    assert!(html.contains("<a href=\"https://paper.example/more\""));
    assert!(!html.contains("onclick"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("px.gif"));
}

#[test]
fn json_ld_article_body_is_used_when_dom_is_empty() {
    let body = "Sentence about the harbour expansion and its costs. ".repeat(20);
    let page = format!(
        "<html><head><script type=\"application/ld+json\">{{\"@type\":\"NewsArticle\",\
         \"headline\":\"Harbour\",\"articleBody\":\"{body}\"}}</script></head>\
         <body><div id=\"root\"></div></body></html>"
    );
    let out = extract(&page, &ExtractOptions::default());
    assert!(out.text.unwrap_or_default().contains("harbour expansion"));
    assert_eq!(out.page_kind, PageKind::Article);
}

#[test]
fn pathologically_deep_nesting_is_handled_quickly() {
    let depth = 20_000;
    let page = format!(
        "<html><body>{}<p>Deeply buried sentence that should still be found.</p>{}</body></html>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    let start = std::time::Instant::now();
    let out = extract(&page, &ExtractOptions::default());
    assert!(out
        .text
        .unwrap_or_default()
        .contains("Deeply buried sentence"));
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn empty_input_yields_no_article() {
    let out = extract("", &ExtractOptions::default());
    assert!(out.text.is_none());
    assert_ne!(out.page_kind, PageKind::Article);
}

#[test]
fn a_cookie_notice_chosen_as_the_article_gives_way_to_the_page_region() {
    let notice = "We and our partners store and access personal data, like browsing data or unique \
        identifiers, on your device, to measure and improve our services and show you relevant ads. "
        .repeat(3);
    let stories: String = (0..12)
        .map(|i| format!("<li><a href=\"/s{i}\">Story number {i} about the city council budget vote</a></li>"))
        .collect();
    let page = format!(
        "<html><head><title>Home</title></head><body><div class=\"notice\"><p>{notice}</p></div>\
         <main><h2>Latest</h2><ul>{stories}</ul></main></body></html>"
    );
    let out = extract(&page, &ExtractOptions::default());
    let text = out.text.unwrap_or_default();
    assert!(text.contains("Story number 11"), "{text}");
}

#[test]
fn page_kinds_are_named_in_snake_case() {
    assert_eq!(PageKind::ConsentWall.as_str(), "consent_wall");
    assert_eq!(PageKind::Article.as_str(), "article");
}

fn page_with(head: &str, body: &str) -> String {
    format!("<html lang=\"en\"><head><title>Page</title>{head}</head><body>{body}</body></html>")
}

fn kind_of(head: &str, body: &str, url: Option<&str>) -> PageKind {
    let opts = ExtractOptions {
        url: url.and_then(|u| url::Url::parse(u).ok()),
    };
    extract(&page_with(head, body), &opts).page_kind
}

fn ld(json: &str) -> String {
    format!("<script type=\"application/ld+json\">{json}</script>")
}

#[test]
fn a_live_blog_keeps_every_update_its_json_ld_lists_in_the_page_order() {
    let updates: Vec<String> = (1..=5)
        .map(|i| {
            format!(
                "{{\"@type\":\"BlogPosting\",\"headline\":\"Update {i}\",\"articleBody\":\"Update {i} \
                 reports that the count in district {i} has finished and the turnout was higher \
                 than at the last election, with long queues at the schools.\"}}"
            )
        })
        .collect();
    let head = ld(&format!(
        "{{\"@type\":\"LiveBlogPosting\",\"headline\":\"Election night\",\"liveBlogUpdate\":[{}]}}",
        updates.join(",")
    ));
    // The DOM shows only the newest update, as a lazily loaded blog does.
    let body = "<article><h2>Update 1</h2><p>Update 1 reports that the count in district 1 \
                has finished and the turnout was higher than at the last election.</p></article>";
    let out = extract(&page_with(&head, body), &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::LiveBlog);
    let text = out.text.unwrap_or_default();
    let at: Vec<usize> = (1..=5)
        .map(|i| {
            text.find(&format!("Update {i} reports"))
                .unwrap_or(usize::MAX)
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "in order: {at:?}\n{text}"
    );
    assert!(at[4] != usize::MAX, "{text}");
}

#[test]
fn a_thread_keeps_every_post_its_json_ld_lists_not_just_the_first() {
    let reply = |who: &str, n: usize| {
        format!(
            "{{\"@type\":\"Comment\",\"author\":{{\"name\":\"{who}\"}},\"text\":\"Reply {n}: I bought \
             a small refractor for my first year and it showed Saturn's rings and the moons of \
             Jupiter from a city balcony.\"}}"
        )
    };
    let head = ld(&format!(
        "{{\"@type\":\"DiscussionForumPosting\",\"headline\":\"First telescope?\",\
         \"author\":{{\"name\":\"stargazer\"}},\"text\":\"Which telescope should I buy first?\",\
         \"comment\":[{},{},{}]}}",
        reply("ann", 1),
        reply("bob", 2),
        reply("cy", 3)
    ));
    let body = "<article><p>Which telescope should I buy first? My budget is modest and I live \
                in a city with a lot of light at night.</p></article>";
    let out = extract(&page_with(&head, body), &ExtractOptions::default());
    assert_eq!(out.page_kind, PageKind::Forum);
    let text = out.text.unwrap_or_default();
    for n in 1..=3 {
        assert!(text.contains(&format!("Reply {n}: I bought")), "{text}");
    }
}

#[test]
fn a_live_blog_is_known_by_its_live_blog_posting() {
    let head = ld(r#"{"@type":"LiveBlogPosting","headline":"Election night live"}"#);
    assert_eq!(kind_of(&head, &para(8), None), PageKind::LiveBlog);
}

#[test]
fn a_forum_thread_is_known_by_its_declaration_or_its_repeated_posts() {
    let head = ld(r#"{"@type":"DiscussionForumPosting","headline":"Bike won't shift"}"#);
    assert_eq!(kind_of(&head, &para(4), None), PageKind::Forum);
    let posts: String = (0..5)
        .map(|i| {
            format!(
                "<div itemtype=\"https://schema.org/DiscussionForumPosting\" itemscope>\
                 <span>user{i}</span><p>Reply {i}: I had the same problem with my gears.</p></div>"
            )
        })
        .collect();
    assert_eq!(kind_of("", &posts, None), PageKind::Forum);
}

#[test]
fn an_faq_page_of_questions_is_no_forum() {
    let head = ld(r#"{"@type":"FAQPage","mainEntity":[{"@type":"Question","name":"Why?"}]}"#);
    assert_ne!(kind_of(&head, &para(8), None), PageKind::Forum);
}

#[test]
fn a_product_page_is_known_by_its_price_and_cart() {
    let body = "<h1>Trail shoe</h1><p>Light and grippy.</p><span class=\"price\">$129.00</span>\
                <button class=\"add-to-cart\">Add to cart</button>";
    assert_eq!(kind_of("", body, None), PageKind::Product);
    let head = ld(r#"{"@type":"Product","name":"Trail shoe"}"#);
    assert_eq!(kind_of(&head, &para(3), None), PageKind::Product);
}

#[test]
fn a_price_written_after_its_number_in_euros_counts_as_a_price() {
    let body = "<h1>Wanderschuh</h1><p>Leicht und griffig.</p><span>129,00 €</span>\
                <button>In den Warenkorb</button>";
    assert_eq!(kind_of("", body, None), PageKind::Product);
}

#[test]
fn a_review_of_a_product_stays_an_article() {
    let head = format!(
        "<meta property=\"og:type\" content=\"article\">{}",
        ld(r#"{"@type":"Product","name":"Trail shoe"}"#)
    );
    assert_eq!(kind_of(&head, &para(8), None), PageKind::Article);
}

#[test]
fn a_shop_grid_of_priced_products_is_a_collection() {
    let cards: String = (0..12)
        .map(|i| {
            format!(
                "<div class=\"product-card\"><a href=\"/p{i}\"><img src=\"/i{i}.jpg\"></a>\
                 <span>Shoe {i}</span><span>€{i}9,00</span></div>"
            )
        })
        .collect();
    assert_eq!(kind_of("", &cards, None), PageKind::Collection);
    let head = ld(r#"{"@type":"CollectionPage","name":"Shoes"}"#);
    assert_eq!(kind_of(&head, &para(3), None), PageKind::Collection);
}

#[test]
fn many_same_shaped_teasers_make_a_listing() {
    let teasers: String = (0..10)
        .map(|i| format!("<div><h3><a href=\"/s{i}\">Story {i} about the budget</a></h3><p>Teaser {i}.</p></div>"))
        .collect();
    assert_eq!(kind_of("", &teasers, None), PageKind::Listing);
    let head = ld(r#"{"@type":"ItemList","itemListElement":[]}"#);
    assert_eq!(kind_of(&head, &para(3), None), PageKind::Listing);
}

#[test]
fn an_article_with_a_rail_of_related_story_headlines_stays_an_article() {
    let prose: String = (0..4)
        .map(|i| {
            format!(
                "<p>Paragraph {i} of the report explains how the city council voted on the new \
                 transit budget after a long evening of testimony, what residents, drivers and \
                 shop owners said at the hearing, and why the plan matters so much for the \
                 commuters who rely on the buses every single day of the working week.</p>"
            )
        })
        .collect();
    let rail: String = (0..10)
        .map(|i| {
            format!("<div><h3><a href=\"/s{i}\">Related story {i} about the budget</a></h3></div>")
        })
        .collect();
    assert_eq!(
        kind_of("", &format!("{prose}{rail}"), None),
        PageKind::Article
    );
    assert_eq!(kind_of("", &rail, None), PageKind::Listing);
}

#[test]
fn documentation_is_known_by_its_generator_type_or_address() {
    let head = "<meta name=\"generator\" content=\"Docusaurus v3\">";
    assert_eq!(kind_of(head, &para(4), None), PageKind::Documentation);
    let head = ld(r#"{"@type":"TechArticle","headline":"Install"}"#);
    assert_eq!(kind_of(&head, &para(4), None), PageKind::Documentation);
    assert_eq!(
        kind_of("", &para(4), Some("https://example.org/docs/install")),
        PageKind::Documentation
    );
}

#[test]
fn a_video_or_gallery_page_says_so_in_its_open_graph_or_json_ld() {
    let head = "<meta property=\"og:type\" content=\"video.other\">";
    assert_eq!(kind_of(head, &para(3), None), PageKind::Video);
    let head = ld(r#"{"@type":"ImageGallery","name":"Photos"}"#);
    assert_eq!(kind_of(&head, &para(3), None), PageKind::Gallery);
}

#[test]
fn a_landing_page_selling_a_service_is_a_service() {
    let body =
        "<h1>Payroll, done</h1><p>Run payroll in minutes.</p><a href=\"/demo\">Book a demo</a>\
                <p>Plans from $8 per month.</p>";
    assert_eq!(kind_of("", body, None), PageKind::Service);
}

#[test]
fn a_long_article_with_a_call_to_action_stays_an_article() {
    let long = "<p>The council's vote followed months of hearings in which residents, bus drivers \
                and shop owners argued over routes, fares and the cost of new shelters, and the \
                mayor promised that the plan would be reviewed again after its first full year \
                of service on the city's busiest corridors.</p>"
        .repeat(6);
    let body = format!("{long}<a href=\"/demo\">Book a demo</a>");
    assert_eq!(kind_of("", &body, None), PageKind::Article);
}

#[test]
fn every_kind_round_trips_through_its_snake_case_name_and_serde() {
    for kind in PageKind::ALL {
        assert_eq!(PageKind::parse(kind.as_str()), Some(kind));
        assert_eq!(
            serde_json::to_value(kind).ok(),
            Some(serde_json::Value::String(kind.as_str().into()))
        );
    }
    assert_eq!(PageKind::LiveBlog.as_str(), "live_blog");
}

/// `bytes` of inline script, JSON state and style, the bulk of real pages
/// at the body cap.
fn script_bulk(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    while s.len() < bytes {
        s.push_str("<script>window.__STATE__ = {\"items\":[");
        s.push_str(&"{\"id\":1,\"title\":\"<p>Teaser in a string</p>\"},".repeat(2000));
        s.push_str("{}]};</script><style>.a > b { color: red }</style><!-- build 1234 -->");
    }
    s
}

#[test]
fn an_article_among_megabytes_of_scripts_is_extracted_with_its_json_ld() {
    let ld = "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\
              \"@type\":\"NewsArticle\",\"headline\":\"Council passes transit budget\",\
              \"author\":{\"@type\":\"Person\",\"name\":\"Ann Lee\"}}</script>";
    let page = article_page("").replace(
        "</head><body>",
        &format!(
            "{}{ld}</head><body>{}",
            script_bulk(6 << 20),
            script_bulk(1 << 20)
        ),
    ) + &script_bulk(3 << 20);
    assert!(page.len() > 10 << 20);
    assert!(prepare(&page).len() < 64 << 10);
    let out = extract(&page, &ExtractOptions::default());
    let text = out.text.unwrap_or_default();
    assert!(text.contains("Paragraph 7 of the report"), "{text}");
    assert!(!text.contains("Teaser in a string") && !text.contains("__STATE__"));
    assert_eq!(out.authors, vec!["Ann Lee".to_owned()]);
    assert_eq!(out.page_kind, PageKind::Article);
}

#[test]
fn markup_beyond_the_parse_cap_is_cut_before_a_tag() {
    let filler = "<div class=\"teaser\"><h3><a href=\"/t\">Another teaser</a></h3></div>";
    let page = article_page(&filler.repeat((MAX_PARSE_BYTES + (1 << 20)) / filler.len()));
    let prepared = prepare(&page);
    assert!(prepared.len() <= MAX_PARSE_BYTES && prepared.len() > MAX_PARSE_BYTES - 1024);
    // No tag is cut in half.
    assert!(prepared.rfind('<') < prepared.rfind('>'));
    assert!(prepared.contains("Paragraph 7 of the report"));
}
