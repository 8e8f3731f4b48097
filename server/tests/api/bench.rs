//! `sightline bench` end to end in miniature: every phase runs against the real server, worker,
//! Postgres and Redis, and the JSON it ends with carries real, consistent figures.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{cli_output, run_generate, sightline_cli, spawn_app_with};

/// The JSON object of a tool's last output line.
fn last_json(out: &str) -> Value {
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON line {line:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_benchmark_measures_every_phase_and_loses_nothing() {
    let app = spawn_app_with(sightline::app::Mode::All, |env| {
        for (k, v) in [
            ("SIGHTLINE_RATE_PER_IP", "10000000"),
            ("SIGHTLINE_RATE_PER_KEY", "10000000"),
            ("SIGHTLINE_RATE_PER_ANON", "1000000"),
        ] {
            env.insert(k.into(), v.into());
        }
    })
    .await;
    // `sightline bench-trivial`, the HTTP reference, in its own process as scripts/bench runs it.
    let trivial_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let trivial_url = format!("http://127.0.0.1:{trivial_port}");
    let mut trivial = sightline_cli();
    trivial.args([
        "bench-trivial",
        "--bind",
        &format!("127.0.0.1:{trivial_port}"),
    ]);
    let _trivial = trivial.spawn().expect("bench-trivial starts");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(&trivial_url).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut bench = sightline_cli();
    bench
        .envs(&app.env)
        .args([
            "bench",
            "--url",
            &app.address,
            "--trivial-url",
            &trivial_url,
        ])
        .args(["--key", &app.project.public_key])
        .args(["--project", &app.project.id.to_string()])
        .args(["--server-pid", &std::process::id().to_string()])
        .args(["--e2e-secs", "2", "--http-secs", "1", "--concurrency", "4"])
        .args(["--e2e-backlog", "20000"]);
    let figures = last_json(&cli_output(bench, "sightline bench").await);

    let f = |name: &str| {
        figures[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} missing in {figures}"))
    };
    assert_eq!(f("lost"), 0.0, "{figures}");
    assert_eq!(f("duplicated"), 0.0, "{figures}");
    // Proven on ids, for phase 1 and for every event accepted in every phase.
    for name in [
        "unexpected",
        "all_phases_missing",
        "all_phases_unexpected",
        "all_phases_duplicated",
    ] {
        assert_eq!(f(name), 0.0, "{name}: {figures}");
    }
    assert!(f("all_phases_accepted") > f("e2e_accepted"), "{figures}");
    assert_eq!(f("copy_runs"), 3.0, "the COPY reference is a median of 3");
    assert!(f("copy_spread") >= 0.0);
    assert!(f("e2e_accepted") > 0.0 && f("e2e_events_per_s") > 0.0);
    assert!(f("copy_rows_per_s") > 0.0);
    let ratio = f("e2e_events_per_s") / f("copy_rows_per_s");
    assert!((f("e2e_vs_copy") - ratio).abs() < 0.01, "{figures}");
    for batch in [1, 20] {
        assert!(f(&format!("http_rps_{batch}")) > 0.0);
        assert!(f(&format!("trivial_rps_{batch}")) > 0.0);
        assert!(f(&format!("http_p50_ms_{batch}")) <= f(&format!("http_p99_ms_{batch}")));
    }
    // The ingest-alone case ran with the queue paused and resumed it: nothing stays held.
    assert!(f("http_rps_1_ingest_alone") > 0.0 && f("http_p99_ms_1_ingest_alone") > 0.0);
    assert!(f("http_vs_trivial_ingest_alone") > 0.0);
    assert!(!app.queue.counts().await.expect("counts").paused);
    assert!(f("http_p99_ms_at_half_rate") > 0.0);
    assert!(f("trivial_p99_ms_at_half_rate") > 0.0);
    assert!(f("wakeup_p99_ms_at_half_rate") >= 0.0);
    assert!(f("server_rss_mb") > 0.0);
    // Every event the benchmark's phases had accepted is stored exactly once, the ones held
    // while paused included (the half-rate case waits for them before it starts).
    assert_eq!(app.duplicate_event_ids().await, 0);
    app.stop().await;
}

/// Phase 4 (`sightline bench-queries`) in miniature: every case answers without a GraphQL error
/// on a generated history, so a schema change cannot silently break the benchmark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_benchmark_answers_every_case_on_a_generated_history() {
    let app = spawn_app_with(sightline::app::Mode::Serve, |_| {}).await;
    run_generate(&app.env, app.project.id, 20_000, 30, 2_000, 7, 5_000, 2).await;
    let mut queries = sightline_cli();
    queries
        .args([
            "bench-queries",
            "--url",
            &app.address,
            "--token",
            &app.admin_token,
        ])
        .args([
            "--project",
            &app.project.id.to_string(),
            "--runs",
            "3",
            "--days",
            "30",
        ]);
    let figures = last_json(&cli_output(queries, "sightline bench-queries").await);
    // Every case of the benchmark, by name: a case dropped or renamed fails here.
    let mut cases: Vec<&str> = figures
        .as_object()
        .expect("an object")
        .keys()
        .filter_map(|k| k.strip_suffix("_p50_ms"))
        .collect();
    cases.sort_unstable();
    assert_eq!(
        cases,
        [
            "breakdown_browser_7d",
            "breakdown_country_30d",
            "breakdown_page_30d",
            "breakdown_source_30d",
            "events_props_30d",
            "funnel_7d",
            "heatmap_pricing_7d",
            "journeys_pricing_7d",
            "overview_30d",
            "overview_7d",
            "overview_device_7d",
            "overview_props_7d",
            "overview_visitors_30d",
            "retention_30d",
            "timeseries_30d_day_users",
            "timeseries_7d_hour",
            "top_elements_30d",
            "top_pages_30d",
        ],
        "{figures}"
    );
    for (name, v) in figures.as_object().into_iter().flatten() {
        let Some(case) = name.strip_suffix("_p50_ms") else {
            continue;
        };
        let p95 = figures[format!("{case}_p95_ms")].as_f64().unwrap_or(-1.0);
        let p50 = v.as_f64().unwrap_or(-1.0);
        assert!(0.0 <= p50 && p50 <= p95, "{case}: {figures}");
    }
    app.stop().await;
}
