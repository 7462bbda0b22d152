-- API pages without reading article rows. `publisher`, `first_seen_at` and
-- `lang` are stored after the full text (`lang` after the HTML too), so
-- reading any of them from a row walks the row's overflow pages: tens of
-- microseconds an article at a million articles. Search candidates (found by
-- the word index, by id) are checked against `since`/`until`/`lang`/
-- `publisher`, and a small feed's articles sorted newest first, by one probe
-- of this index each instead.
CREATE INDEX articles_filter_columns ON articles (id, first_seen_at, lang, publisher);

-- `lang=`: how many articles a language has, and a rare language's articles
-- without walking the archive (`en` also finds `en-GB`, as a prefix: the
-- NOCASE collation lets `LIKE 'en-%'` use the index).
CREATE INDEX articles_lang_seen ON articles (lang COLLATE NOCASE, first_seen_at);
