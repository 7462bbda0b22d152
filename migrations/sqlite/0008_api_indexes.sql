-- API listings by publisher. Without an index, `publisher=` walks the archive
-- newest first and reads each row past its full text (publisher is stored
-- after it) until a page is full: the whole archive for a rare publisher.
-- The index answers the filter in order of first sighting, as pages need.
CREATE INDEX articles_publisher_seen ON articles (publisher COLLATE NOCASE, first_seen_at)
    WHERE publisher IS NOT NULL;
