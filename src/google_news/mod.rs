//! Google News as a source: pure, IO-free building blocks.
//!
//! * [`feed`]: editions, feed specs (config spelling) and feed URLs;
//! * [`links`]: recognising Google article links on the configured base host;
//! * [`decode`]: offline decoding of article ids (old ids carry the publisher URL);
//! * [`resolve`]: the article-page signature, consent detection and the batched
//!   `batchexecute`/`Fbv4je` request and answer;
//! * [`item`]: title suffix stripping and related-coverage clusters;
//! * [`title`]: normalised title keys for provisional identity;
//! * [`pace`]: the learned pace of article-page GETs (a token bucket);
//! * [`watch`]: noticing a resolution step that Google answers but that always fails;
//! * `stand_in` (tests and benchmarks only): Google's side of the protocol, for local stand-ins.
//!
//! Note: the feeds' `<copyright>` restricts their use to personal, non-commercial feed readers.

pub mod decode;
pub mod entry;
pub mod feed;
mod html;
pub mod item;
pub mod links;
pub mod pace;
pub mod resolve;
#[cfg(any(test, feature = "test-support"))]
pub mod stand_in;
pub mod title;
pub mod watch;

pub use decode::{decode_article_id, encode_old_format_id, DecodeError, DecodedId, MAX_ID_LEN};
pub use entry::{classify, edition_of, EntryFields, GoogleItem};
pub use feed::{
    default_base, feed_url, is_unsupported_feed_url, Edition, GoogleNewsFeed, GoogleNewsSpec,
    SpecError, Topic, DEFAULT_BASE,
};
pub use item::{parse_description_cluster, strip_source_suffix, RelatedItem};
pub use links::article_id_from_url;
pub use pace::{Pace, PaceRule};
pub use resolve::{
    accept_publisher_url, batchexecute_body, batchexecute_freq, batchexecute_url,
    is_consent_redirect, is_lockout_page, parse_article_page, parse_article_page_for,
    parse_batchexecute, rss_article_page_url, unwrap_consent_redirect, AnswerError, BatchAnswer,
    BatchError, PageError, Signature, BATCHEXECUTE_CONTENT_TYPE, BATCHEXECUTE_PATH,
    DEFAULT_BATCH_SIZE, RPC_ID,
};
pub use title::{normalized_title_key, provisional_key};
