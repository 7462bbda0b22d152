-- Full text was queued in two places: this trigger for articles stored with
-- a publisher URL, and the store's code for Google articles once their link
-- resolved. The store's identity statements (src/store/sqlite/identity.rs)
-- now queue both, so the rule has one home and a second engine needs no
-- trigger to match.
DROP TRIGGER articles_ai_fulltext;
