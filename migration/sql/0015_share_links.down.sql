DROP TABLE IF EXISTS share_links;
