//! No Docker engine runs in CI, so docker-compose.yml is checked statically: it parses, has the
//! services the docs promise, and every environment variable given to a Sightline container is
//! one the configuration actually reads.

use std::collections::BTreeSet;

use serde_yaml::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(path).expect("docker-compose.yml exists");
    let mut v: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    v.apply_merge().expect("YAML merge keys resolve");
    v
}

#[test]
fn compose_file_defines_the_platform_services() {
    let v = compose();
    let services = v["services"].as_mapping().expect("services");
    for name in ["postgres", "redis", "migrate", "server", "worker"] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    for name in ["postgres", "redis", "server"] {
        assert!(
            v["services"][name]["healthcheck"]["test"].is_sequence(),
            "{name} has a health check"
        );
    }
    let redis_cmd = serde_yaml::to_string(&v["services"]["redis"]["command"]).expect("yaml");
    assert!(redis_cmd.contains("appendonly"), "redis runs with AOF on");
}

#[test]
fn sightline_services_only_set_settings_the_config_reads() {
    let v = compose();
    let known: BTreeSet<&str> = sightline::config::SETTINGS.iter().map(|s| s.name).collect();
    for name in ["migrate", "server", "worker"] {
        let env = v["services"][name]["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name} has an environment"));
        assert!(!env.is_empty());
        for key in env.keys() {
            let key = key.as_str().expect("string keys");
            assert!(
                known.contains(key),
                "service {name} sets {key}, which the configuration does not read"
            );
        }
        for required in ["DATABASE_URL", "REDIS_URL", "SIGHTLINE_JWT_SECRET"] {
            assert!(
                env.contains_key(required),
                "service {name} must set {required}"
            );
        }
        let cmd = serde_yaml::to_string(&v["services"][name]["command"]).expect("yaml");
        let sub = match name {
            "migrate" => "migrate",
            "server" => "serve",
            _ => "worker",
        };
        assert!(cmd.contains(sub), "service {name} runs `sightline {sub}`");
    }
}

#[test]
fn dockerfile_builds_the_sightline_binary() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile");
    let text = std::fs::read_to_string(path).expect("Dockerfile exists");
    assert!(text.contains("cargo build --release --locked -p sightline"));
    assert!(text.contains("HEALTHCHECK"));
}

/// Secrets at rest: no password is written in the file (each comes from the environment and
/// compose refuses to start without it), and only the server's HTTP port is published.
#[test]
fn compose_takes_every_password_from_the_environment_and_publishes_only_http() {
    let v = compose();
    let services = v["services"].as_mapping().expect("services");
    for (name, service) in services {
        let name = name.as_str().expect("a name");
        let ports = service["ports"].as_sequence().map(Vec::len).unwrap_or(0);
        if name == "server" {
            let ports = serde_yaml::to_string(&service["ports"]).expect("yaml");
            assert_eq!(
                ports.trim(),
                "- 8080:8080",
                "the server publishes HTTP only"
            );
        } else {
            assert_eq!(ports, 0, "service {name} publishes no port");
        }
    }
    let pg = &v["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"];
    assert!(
        pg.as_str()
            .is_some_and(|p| p.starts_with("${SIGHTLINE_DB_PASSWORD:?")),
        "the database password is required from the environment: {pg:?}"
    );
    let redis = serde_yaml::to_string(&v["services"]["redis"]["command"]).expect("yaml");
    assert!(redis.contains("--requirepass"), "redis asks for a password");
    for name in ["migrate", "server", "worker"] {
        let env = &v["services"][name]["environment"];
        for (key, needs) in [
            ("DATABASE_URL", "${SIGHTLINE_DB_PASSWORD:?"),
            ("REDIS_URL", "${SIGHTLINE_REDIS_PASSWORD:?"),
        ] {
            let url = env[key].as_str().expect("a URL");
            assert!(
                url.contains(needs),
                "{name}'s {key} takes its password from the environment: {url}"
            );
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(path).expect("docker-compose.yml");
    assert!(
        !text.contains("sightline:sightline@") && !text.contains("PASSWORD: sightline"),
        "no fixed password"
    );
}

/// The image's build stage copies every workspace member: cargo reads every member's manifest
/// for any build, so one missing (or kept out by .dockerignore) fails `docker compose build`.
#[test]
fn the_image_build_gets_every_workspace_member() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/{f}")).expect(f);
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace members")
        .iter()
        .map(|m| m.as_str().expect("a path"))
        .collect();
    let dockerfile = read("Dockerfile");
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    for m in members {
        assert!(
            dockerfile
                .lines()
                .any(|l| l.trim() == format!("COPY {m} {m}")),
            "Dockerfile does not copy workspace member {m}"
        );
        assert!(
            !ignored.iter().any(|i| i == m),
            ".dockerignore keeps workspace member {m} out of the build context"
        );
    }
}
