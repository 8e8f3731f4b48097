DROP FUNCTION IF EXISTS sightline_ensure_day_partition(date);
DROP TABLE IF EXISTS activities CASCADE;
DROP SEQUENCE IF EXISTS activities_id_seq;
DROP TABLE IF EXISTS communities, users, accounts, projects CASCADE;
