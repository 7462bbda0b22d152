-- Ingest speed. No query of newsd reads articles by `published_at` (lists
-- and searches go by first sighting, see 0008 and 0009), yet every new
-- article paid for an entry in this index, at a scattered place: feeds
-- publish in bursts at the same minutes, so each write touched leaf pages
-- all over it. Someone querying the archive by publication date with
-- `sqlite3` can create it again; newsd does not mind.
DROP INDEX IF EXISTS articles_published;
