DROP TABLE IF EXISTS purged_users;
DROP FUNCTION IF EXISTS sightline_user_hash(text);
