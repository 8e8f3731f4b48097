-- Revocable sessions and the audit log (issue 23).

-- `token_version` is copied into the tokens `login` issues (claim `ver`); raising it (role
-- change, disable, password reset, "sign out everywhere") refuses every token issued before.
-- `disabled_at`: a disabled account cannot log in and its tokens are refused.
ALTER TABLE accounts
    ADD COLUMN token_version integer NOT NULL DEFAULT 0,
    ADD COLUMN disabled_at timestamptz;

-- Who did what, when, from where: every administrative action and every login.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    -- The token's subject (an account's email, or the subject of a `sightline token`), or the
    -- email a login was attempted for.
    actor text NOT NULL,
    -- `project.create`, `account.disable`, `login.failure`, ... (docs/API.md lists them).
    action text NOT NULL,
    -- The projects the action concerns: a scoped admin sees an entry when all of them are
    -- theirs; empty for actions on the whole installation (seen by admins of all projects).
    project_ids uuid[] NOT NULL DEFAULT '{}',
    -- What was acted on (an account id, a user id, a dead-letter job...), when one thing.
    target text,
    ip inet,
    detail jsonb NOT NULL DEFAULT '{}'
);

-- A scoped admin's page: entries whose projects are within theirs, newest first.
CREATE INDEX audit_log_projects ON audit_log USING gin (project_ids);
