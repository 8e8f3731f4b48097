//! `sightline config` and `sightline --help` as the real binary prints them: every setting from
//! the one declaration in config.rs, secrets masked, an invalid configuration refused.

use crate::helpers::sightline_cli;

/// `sightline ARGS` with exactly `env` as its environment (none of the caller's settings).
async fn run(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = sightline_cli();
    cmd.env_clear().envs(env.iter().copied()).args(args);
    cmd.output().await.expect("sightline runs")
}

const VALID: &[(&str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://app:pg-hunter2@db:5432/sightline",
    ),
    ("REDIS_URL", "redis://:redis-hunter2@redis:6379"),
    (
        "SIGHTLINE_JWT_SECRET",
        "jwt-hunter2-0123456789abcdef0123456789",
    ),
    ("SIGHTLINE_WORKER_LANES", "5"),
];

#[tokio::test]
async fn sightline_config_prints_every_setting_with_secrets_masked() {
    let out = run(VALID, &["config"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("hunter2"), "a secret is shown:\n{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{stdout}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("DATABASE_URL"),
        ["environment", "postgres://app:***@db:5432/sightline"]
    );
    assert_eq!(
        line("REDIS_URL"),
        ["environment", "redis://:***@redis:6379"]
    );
    assert_eq!(line("SIGHTLINE_JWT_SECRET"), ["environment", "***"]);
    assert_eq!(line("SIGHTLINE_WORKER_LANES"), ["environment", "5"]);
    assert_eq!(line("SIGHTLINE_DATABASE_POOL"), ["default", "16"]);
    assert_eq!(line("SIGHTLINE_DATABASE_READ_URL"), ["default", "(unset)"]);
    for spec in sightline::config::SETTINGS {
        line(spec.name);
    }
}

#[tokio::test]
async fn sightline_config_refuses_an_invalid_configuration_without_showing_its_password() {
    let mut env = VALID.to_vec();
    env[0] = ("DATABASE_URL", "mysql://app:pg-hunter2@db/sightline");
    let out = run(&env, &["config"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an invalid URL must fail");
    assert_eq!(
        stderr.trim_end(),
        "sightline: config: DATABASE_URL=\"mysql://app:***@db/sightline\" is invalid: \
         expected a URL starting with postgres://, postgresql://"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));

    let dir = std::env::temp_dir().join(format!("sightline-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("sightline.toml");
    std::fs::write(&file, "worker_lane = 4\n").expect("write");
    let path = file.display().to_string();
    let mut env = VALID.to_vec();
    env.push(("SIGHTLINE_CONFIG", &path));
    let out = run(&env, &["config"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown key must fail");
    assert!(
        stderr.starts_with(&format!(
            "sightline: config: unknown setting \"worker_lane\" in {path} (known: "
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn help_ends_with_every_setting_and_its_default() {
    let out = run(&[], &["--help"]).await;
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.ends_with(&sightline::config::help_text()), "{help}");
    assert!(help.contains("\n  SIGHTLINE_WORKER_LANES=3\n"), "{help}");

    let markdown = run(&[], &["config", "--markdown"]).await;
    assert!(markdown.status.success());
    assert_eq!(
        String::from_utf8_lossy(&markdown.stdout),
        sightline::config::markdown_table()
    );
}
