-- Retention and archive bookkeeping.

-- One row per archived file of raw events: a project's day may have several parts (late events
-- archived by a later run add one). Written in the transaction that deletes the exported rows,
-- after the file was re-read from the store and matched (row count and SHA-256), so a row here
-- means the rows are safely in the file and gone from `activities`.
CREATE TABLE archive_parts (
    project_id  uuid        NOT NULL,
    day         date        NOT NULL,
    object_key  text        NOT NULL,
    rows        bigint      NOT NULL,
    -- SHA-256 (hex) of the uncompressed CSV, as exported.
    sha256      text        NOT NULL,
    -- Size of the compressed object.
    bytes       bigint      NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, day, object_key)
);

-- Days brought back by `sightline archive restore`: retention leaves their rows in place until
-- keep_until, then archives them again.
CREATE TABLE archive_restores (
    project_id  uuid        NOT NULL,
    day         date        NOT NULL,
    restored_at timestamptz NOT NULL,
    keep_until  timestamptz NOT NULL,
    PRIMARY KEY (project_id, day)
);

-- How far back each rollup table of a project is kept: retention pruned the rows before
-- `before`, so `rollup verify` compares from there on only.
CREATE TABLE rollup_horizons (
    project_id uuid        NOT NULL,
    rollup     text        NOT NULL,
    before     timestamptz NOT NULL,
    PRIMARY KEY (project_id, rollup)
);
