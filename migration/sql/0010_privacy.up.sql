-- What of a visitor's IP address a project stores: 'truncated' (the default: IPv4 /24, IPv6
-- /48, enough for a network or a country, not a household), 'full', or 'none'. Whatever is
-- derived from the address is derived from the full one in the worker, before it is cut.
ALTER TABLE projects
    ADD COLUMN ip_storage text NOT NULL DEFAULT 'truncated'
        CONSTRAINT projects_ip_storage_check CHECK (ip_storage IN ('truncated', 'full', 'none'));
