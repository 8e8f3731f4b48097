-- The worker's write statement asks, per batch, whether its project had a GDPR purge lately
-- (then it trusts no actor-day it was told is stored already): an index answers that without
-- reading every purged user of the project.
CREATE INDEX purged_users_recent_idx ON purged_users (project_id, purged_at);
