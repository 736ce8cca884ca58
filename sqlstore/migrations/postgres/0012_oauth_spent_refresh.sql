-- 0012_oauth_spent_refresh: the refresh tokens each U2M grant has rotated
-- past, so that one presented again (a stolen copy, or the rightful
-- client's after a thief used it first) ends the whole grant: refresh
-- token reuse detection (OAuth 2.0 Security Best Current Practice,
-- RFC 9700 section 4.14.2). Keyed digests only; rows go with their grant.
CREATE TABLE oauth_spent_refresh (
	digest   BYTEA PRIMARY KEY,
	grant_id TEXT COLLATE "C" NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
	spent_at BIGINT NOT NULL
);
CREATE INDEX oauth_spent_refresh_grant ON oauth_spent_refresh (grant_id);
