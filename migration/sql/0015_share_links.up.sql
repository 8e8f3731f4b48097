-- Shared links (issue 25, item 8): a secret URL per project that shows the dashboard's overview
-- without a login, read-only, at viewer level, until revoked.
--
-- A tenant table like the others: keys include `project_id` and there is no foreign key to
-- `projects`, so that `sightline migrate --citus` can distribute it by `project_id` (Citus
-- refuses unique constraints without the distribution column). `createShareLink` checks the
-- project exists.
CREATE TABLE share_links (
    id uuid NOT NULL,
    project_id uuid NOT NULL,
    -- SHA-256 (hex) of the link's token: the token itself (32 random bytes) is shown once, when
    -- the link is created, and stored nowhere. A request's token is hashed and looked up here.
    token_hash text NOT NULL,
    -- What the link is for ("weekly report", "investors"), as its creator named it.
    label text,
    -- The subject of the token that created it (an account's email, or a `sightline token`
    -- subject).
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set once, by `revokeShareLink`: from then on the token is refused. Revoked links are kept
    -- (the list shows when and the audit log who).
    revoked_at timestamptz,
    -- Lookups by id (revoke) and by token hash (each request) lead with those columns.
    PRIMARY KEY (id, project_id),
    UNIQUE (token_hash, project_id)
);

-- A project's links, newest first (`shareLinks`).
CREATE INDEX share_links_project ON share_links (project_id, created_at DESC);
