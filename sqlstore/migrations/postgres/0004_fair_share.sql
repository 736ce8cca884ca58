-- 0004_fair_share: PostgreSQL mirror of migrations/sqlite/0004_fair_share.sql
-- (indexes for the per-user limit on waiting runs and for rewriting a
-- renamed or deleted principal's secret scope grants).

CREATE INDEX runs_owner_state ON runs (owner_id, state);
CREATE INDEX secret_acls_principal ON secret_acls (principal);
