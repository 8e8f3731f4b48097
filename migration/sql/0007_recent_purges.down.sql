DROP INDEX IF EXISTS purged_users_recent_idx;
