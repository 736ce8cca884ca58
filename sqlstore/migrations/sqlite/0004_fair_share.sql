-- 0004_fair_share: indexes for per-user queue rules and secret grants.

-- The per-user limit on waiting runs counts one owner's QUEUED and PENDING
-- runs at every submission; runs_owner (owner_id, seq) would scan all of
-- the owner's history.
CREATE INDEX runs_owner_state ON runs (owner_id, state);

-- Renaming or deleting a principal or group rewrites or drops its secret
-- scope grants in every scope; the primary key leads with scope_id.
CREATE INDEX secret_acls_principal ON secret_acls (principal);
