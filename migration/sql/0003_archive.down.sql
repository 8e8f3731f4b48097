DROP TABLE IF EXISTS rollup_horizons, archive_restores, archive_parts;
