-- What the full-text worker found the article's page to be (extract::PageKind
-- in snake_case: article, live_blog, listing, ..., consent_wall); NULL until
-- a page was extracted.
ALTER TABLE articles ADD COLUMN page_kind TEXT;
