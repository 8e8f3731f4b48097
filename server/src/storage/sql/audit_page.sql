-- One page of the audit log, newest first.
-- $1: true for an admin of all projects (every entry); else $2 holds the caller's projects and
--     only entries whose projects are all among them (and name at least one) are seen.
-- $3: only entries that concern this project (NULL: any).   $4: only ids below (NULL: from the
--     newest).   $5: how many.
SELECT id, at, actor, action, project_ids, target, host(ip) AS ip, detail
FROM audit_log
WHERE ($1 OR (project_ids <@ $2::uuid[] AND cardinality(project_ids) > 0))
  AND ($3::uuid IS NULL OR $3::uuid = ANY (project_ids))
  AND ($4::bigint IS NULL OR id < $4::bigint)
ORDER BY id DESC
LIMIT $5
