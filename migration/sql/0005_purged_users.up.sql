-- Users deleted under GDPR, remembered by a hash of their user id (not the id itself), so an
-- archive restored later cannot bring their events back: restore withholds matching rows, and
-- re-archiving a restored day (or `sightline archive rewrite`) writes the files without them.
CREATE TABLE purged_users (
    project_id uuid        NOT NULL,
    -- hex SHA-256 of the user id as UTF-8 (sightline_user_hash).
    user_hash  text        NOT NULL,
    purged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_hash)
);

CREATE FUNCTION sightline_user_hash(user_id text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN encode(sha256(convert_to(user_id, 'UTF8')), 'hex');
