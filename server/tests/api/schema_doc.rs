//! docs/schema.graphql is the schema the server builds: regenerate it with
//! `UPDATE_SCHEMA=1 cargo test -p sightline --test api schema_doc`.

#[test]
fn docs_schema_graphql_matches_the_server_schema() {
    let sdl = sightline::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &sdl).expect("write docs/schema.graphql");
    }
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    assert!(doc == sdl, "docs/schema.graphql is stale: run UPDATE_SCHEMA=1 cargo test -p sightline --test api schema_doc");
    for name in [
        "overview",
        "timeseries",
        "activeUsers",
        "eventCounts",
        "topPages",
        "topElements",
        "scrollDepth",
        "funnel",
        "retention",
        "user",
        "community",
        "events",
        "login",
        "createProject",
        "updateProject",
        "rotateKeys",
        "createAccount",
        "trackEvents",
        "retryDeadLetters",
        "discardDeadLetters",
        "purgeUser",
        "liveEvents",
        "liveStats",
    ] {
        assert!(
            sdl.contains(&format!("\t{name}(")),
            "contract field {name} is in the schema"
        );
    }
}
