//! Retention and archive on real PostgreSQL and a real object store (a local directory through
//! `object_store`): expired raw days exported, verified, deleted and restored losslessly; a
//! shared partition kept while another project has rows in it and dropped once empty; rollups
//! kept past raw retention and pruned at their own; a corrupted archive refused.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use sightline::app::Mode;
use sightline::storage::archive::{self, ArchiveStore};
use sightline::storage::retention::{self, LazyStore, RetentionOptions};
use sightline::storage::{partitions, projects, rollups, Db};

use crate::helpers::{create_project, days, spawn_app_with, TestApp, TestSql};
use sightline::domain::RetentionDays;

/// Events of one project for one day: page views (with referrers and awkward text: a comma, a
/// quote, a newline), clicks, two-step scrolls, identified and anonymous visitors.
fn day_events(day: NaiveDate, n: usize, tag: &str) -> Vec<Value> {
    let start = day.and_hms_opt(9, 0, 0).expect("time").and_utc();
    (0..n)
        .map(|i| {
            let at: DateTime<Utc> = start + Span::minutes(i as i64 * 7);
            let mut v = json!({
                "id": Uuid::new_v4().to_string(),
                "ts": at.timestamp_millis(),
                "session_id": format!("{tag}-s{}-{}", day, i / 5),
                "url": format!("https://shop.example/p/{}?utm_source=t", i % 4),
                "props": {"note": format!("line one,\nline \"two\" {i}"), "plan": if i % 2 == 0 { "pro" } else { "free" }},
            });
            if i % 3 == 0 {
                v["user_id"] = json!(format!("{tag}-u{}", i % 6));
            } else {
                v["anonymous_id"] = json!(format!("{tag}-a{}", i % 9));
            }
            match i % 4 {
                0 => {
                    v["type"] = json!("page.view");
                    v["referrer"] = json!("https://news.example/item?id=1");
                }
                1 => {
                    v["type"] = json!("element.click");
                    v["props"]["selector"] = json!("button.buy");
                    v["entity_type"] = json!("button");
                }
                2 => {
                    v["type"] = json!("page.scroll");
                    v["props"]["depth"] = json!(40);
                    v["props"]["prev"] = json!(0);
                }
                _ => {
                    v["type"] = json!("page.scroll");
                    v["props"]["depth"] = json!(80);
                    v["props"]["prev"] = json!(40);
                }
            }
            v
        })
        .collect()
}

async fn track(app: &TestApp, secret: &str, events: &[Value]) {
    for chunk in events.chunks(200) {
        let r = app
            .client
            .post(format!("{}/api/v1/track", app.address))
            .bearer_auth(secret)
            .json(&json!({ "events": chunk }))
            .send()
            .await
            .expect("track");
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    }
}

async fn count(db: &Db, project: Uuid) -> i64 {
    sightline::storage::events::count(db, project)
        .await
        .expect("count")
}

async fn fingerprint(db: &Db, project: Uuid, day: NaiveDate) -> (i64, String) {
    crate::helpers::day_fingerprint(db, project, day).await
}

async fn rollup_total(db: &Db, project: Uuid) -> i64 {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT sum(events)::bigint FROM rollup_hour WHERE project_id = $1 AND dim = ''",
    )
    .bind(project)
    .fetch_one(db.pool())
    .await
    .expect("rollup total");
    n.unwrap_or(0)
}

async fn partition_exists(db: &Db, day: NaiveDate) -> bool {
    let name = format!("activities_p{}", day.format("%Y%m%d"));
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(&name)
        .fetch_one(db.pool())
        .await
        .expect("regclass");
    exists
}

/// One retention pass; waits while another one (the worker's own, at startup) holds the lock.
async fn run_retention(
    db: &Db,
    store: &mut LazyStore,
    opts: &RetentionOptions,
) -> Result<retention::RetentionReport, sightline::storage::StorageError> {
    for _ in 0..200 {
        let r = retention::run(db, store, opts).await?;
        if !r.skipped {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("retention stayed locked for 10 s");
}

async fn assert_no_differences(db: &Db, project: Uuid, from: NaiveDate, to: NaiveDate) {
    let diffs = rollups::verify(db, project, days(from, to))
        .await
        .expect("verify");
    assert!(diffs.is_empty(), "rollups differ from a recount: {diffs:?}");
}

fn set_retention(raw: Option<i32>, rollups: Option<i32>) -> projects::ProjectUpdate {
    let days = |v: Option<i32>| v.map(|d| RetentionDays::parse(d, "days").expect("1..3650"));
    projects::ProjectUpdate {
        retention_days: days(raw),
        rollup_retention_days: days(rollups),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_days_are_archived_verified_dropped_and_restored_losslessly() {
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let url = format!("file://{}", dir.display());
    let app = spawn_app_with(Mode::All, |env| {
        // The test drives retention itself. The worker's pass at startup prunes nothing of
        // this data (it may run while the test verifies).
        env.insert("SIGHTLINE_MAINTENANCE_INTERVAL_SECS".into(), "3600".into());
        env.insert("SIGHTLINE_ROLLUP_MINUTE_DAYS".into(), "30".into());
        env.insert("SIGHTLINE_ARCHIVE_URL".into(), url.clone());
    })
    .await;
    let db = app.db.clone();
    let a = app.project.id;
    let (other, other_keys) = create_project(&db, "other project").await;
    let b = other.id;

    let today = Utc::now().date_naive();
    let old: Vec<NaiveDate> = (2..=4).map(|d| today - Span::days(d)).collect();
    let mut a_events = Vec::new();
    let mut b_events = Vec::new();
    for (k, day) in old.iter().enumerate() {
        a_events.extend(day_events(*day, 40 + k * 5, "a"));
        b_events.extend(day_events(*day, 10, "b"));
    }
    let recent = today - Span::days(1);
    a_events.extend(day_events(recent, 20, "a"));
    // Sessions across midnight: from an archived day into a restored one, and into a kept one
    // (their start is only in the archive, which the recount must allow for).
    let late = |day: NaiveDate, hm: (u32, u32)| -> i64 {
        day.and_hms_opt(hm.0, hm.1, 0)
            .expect("time")
            .and_utc()
            .timestamp_millis()
    };
    for (session, first, second) in [("x1", old[2], old[1]), ("x2", old[0], recent)] {
        for (at, kind) in [
            (late(first, (23, 50)), "page.view"),
            (late(second, (0, 10)), "element.click"),
        ] {
            a_events.push(json!({
                "id": Uuid::new_v4().to_string(), "type": kind, "ts": at, "session_id": session,
                "anonymous_id": format!("{session}-visitor"), "url": "https://shop.example/late",
            }));
        }
    }
    track(&app, &app.project.secret_key, &a_events).await;
    track(&app, &other_keys.secret_key, &b_events).await;
    let (na, nb) = (a_events.len() as i64, b_events.len() as i64);
    for _ in 0..400 {
        if count(&db, a).await >= na && count(&db, b).await >= nb {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((count(&db, a).await, count(&db, b).await), (na, nb));
    // Days older than the partitions made at migration landed in DEFAULT: give them their day.
    partitions::maintain(&db, 3).await.expect("maintain");
    for day in &old {
        assert!(partition_exists(&db, *day).await, "{day} has a partition");
    }

    let mut before = Vec::new();
    for day in &old {
        before.push(fingerprint(&db, a, *day).await);
    }
    assert_eq!(
        before.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![41, 46, 51]
    );
    let b_before = fingerprint(&db, b, old[0]).await;
    let (from, to) = (old[2], today + Span::days(1));
    assert_no_differences(&db, a, from, to).await;
    let rollups_before = rollup_total(&db, a).await;
    assert_eq!(rollups_before, na);

    // Project A keeps raw events one day; B keeps the default 90.
    projects::update(&db, a, set_retention(Some(1), None))
        .await
        .expect("update retention");
    let opts = RetentionOptions {
        minute_days: 3,
        dry_run: true,
    };
    let mut store = LazyStore::new(url.clone());

    // A dry run names the days and their exact row counts and changes nothing.
    let dry = run_retention(&db, &mut store, &opts)
        .await
        .expect("dry run");
    let mut planned: Vec<(NaiveDate, u64)> = dry.archived.iter().map(|d| (d.day, d.rows)).collect();
    planned.sort();
    assert_eq!(
        planned,
        vec![(old[2], 51), (old[1], 46), (old[0], 41)],
        "{dry:?}"
    );
    assert!(dry.archived.iter().all(|d| d.project == a));
    assert!(dry.dropped.is_empty(), "{dry:?}");
    assert_eq!(count(&db, a).await, na);
    assert!(!dir.exists(), "a dry run opens no store");

    // The real run archives those days of A only, verified, and deletes exactly their rows.
    let opts = RetentionOptions {
        dry_run: false,
        ..opts
    };
    let run = run_retention(&db, &mut store, &opts).await.expect("run");
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    assert_eq!(run.archived.len(), 3, "{run:?}");
    assert_eq!(run.archived.iter().map(|d| d.rows).sum::<u64>(), 138);
    assert_eq!(count(&db, a).await, na - 138);
    assert_eq!(fingerprint(&db, a, recent).await.0, 21, "recent days stay");
    assert_eq!(count(&db, b).await, nb, "the other project's rows stay");
    assert_eq!(fingerprint(&db, b, old[0]).await, b_before);
    for day in &old {
        assert!(
            partition_exists(&db, *day).await,
            "{day}: B still has rows in the shared partition"
        );
    }
    // The files are where the store says, gzip CSV with a header and one record per row.
    for d in &run.archived {
        let path = dir.join(&d.object_key);
        let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(gz.len() as u64, d.bytes);
        let mut csv = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut csv)
            .expect("gunzip");
        assert!(
            csv.starts_with("event_id,project_id,event_type,"),
            "{csv:.80}"
        );
        assert_eq!(
            // JSON escapes the newline; CSV doubles the quotes JSON escaped.
            csv.matches(r#"line one,\nline \""two\"""#).count() as u64,
            d.rows - 1,
            "every row but the day's midnight-crossing one"
        );
    }
    // Rollups outlive the raw rows: totals unchanged, the recount skips archived days.
    assert_eq!(rollup_total(&db, a).await, rollups_before);
    assert_no_differences(&db, a, from, to).await;
    let overview = app
        .graphql(
            Some(&app.admin_token),
            "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events } }",
            json!({"p": a.to_string(), "r": {"from": format!("{}T00:00:00Z", old[2]), "to": format!("{}T00:00:00Z", today)}}),
        )
        .await;
    assert_eq!(
        overview["data"]["overview"]["events"],
        json!(na),
        "{overview}"
    );

    // A second run finds nothing more to do.
    let again = run_retention(&db, &mut store, &opts).await.expect("run");
    assert!(
        again.archived.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );
    let listed = archive::archived_days(&db, a).await.expect("list");
    assert_eq!(listed, vec![(old[2], 51), (old[1], 46), (old[0], 41)]);

    // Restore brings one day back exactly (every column), twice is a no-op, and its rollups
    // still equal a recount.
    let s = ArchiveStore::open(&url).expect("store");
    let r = archive::restore_day(&db, &s, a, old[1], 7)
        .await
        .expect("restore");
    // The rollups still held the day: nothing to rebuild.
    assert_eq!((r.parts, r.rows, r.inserted, r.rollup_rows), (1, 46, 46, 0));
    assert_eq!(fingerprint(&db, a, old[1]).await, before[1]);
    let r = archive::restore_day(&db, &s, a, old[1], 7)
        .await
        .expect("restore again");
    assert_eq!((r.rows, r.inserted), (46, 0));
    assert_eq!(fingerprint(&db, a, old[1]).await, before[1]);
    let diffs = rollups::verify(&db, a, days(old[1], old[1] + Span::days(1)))
        .await
        .expect("verify");
    assert!(diffs.is_empty(), "{diffs:?}");
    assert_eq!(rollup_total(&db, a).await, rollups_before);
    // Retention leaves a restored day alone while the restore holds it.
    let held = run_retention(&db, &mut store, &opts).await.expect("run");
    assert!(held.archived.is_empty(), "{held:?}");
    assert_eq!(fingerprint(&db, a, old[1]).await, before[1]);

    // A damaged archive is refused before anything is written.
    let victim = run
        .archived
        .iter()
        .find(|d| d.day == old[0])
        .expect("archived day");
    std::fs::write(dir.join(&victim.object_key), b"not gzip").expect("damage");
    let err = archive::restore_day(&db, &s, a, old[0], 7)
        .await
        .expect_err("damaged archive");
    assert!(err.to_string().starts_with("archive:"), "{err}");
    assert_eq!(fingerprint(&db, a, old[0]).await.0, 0);
    let err = archive::restore_day(&db, &s, a, today - Span::days(30), 7)
        .await
        .expect_err("nothing archived that day");
    assert!(err.to_string().contains("no archive"), "{err}");

    // Once B expires too, the partitions nobody keeps are dropped; the held day's stays.
    projects::update(&db, b, set_retention(Some(1), None))
        .await
        .expect("update retention");
    let run = run_retention(&db, &mut store, &opts).await.expect("run");
    assert_eq!(run.archived.len(), 3, "{run:?}");
    assert!(run.archived.iter().all(|d| d.project == b && d.rows == 10));
    assert_eq!(count(&db, b).await, 0);
    assert!(!partition_exists(&db, old[0]).await);
    assert!(!partition_exists(&db, old[2]).await);
    assert!(
        partition_exists(&db, old[1]).await,
        "A's restored day is held"
    );
    assert_eq!(run.dropped.len(), 2, "{run:?}");

    // Rollups go at their own retention, and the recount then compares what is kept.
    let hourly = |db: Db| async move {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM rollup_hour WHERE project_id = $1 AND bucket < $2",
        )
        .bind(a)
        .bind(recent.and_hms_opt(0, 0, 0).expect("t").and_utc())
        .fetch_one(db.pool())
        .await
        .expect("count");
        n
    };
    assert!(hourly(db.clone()).await > 0);
    projects::update(&db, a, set_retention(None, Some(1)))
        .await
        .expect("update rollup retention");
    let run = run_retention(&db, &mut store, &opts).await.expect("run");
    assert!(run.rollup_rows > 0, "{run:?}");
    assert_eq!(hourly(db.clone()).await, 0);
    assert_eq!(
        rollup_total(&db, a).await,
        21,
        "only the kept day is counted"
    );
    assert_no_differences(&db, a, from, to).await;

    // Restoring a day whose rollups were pruned (and whose partition was dropped) brings the
    // partition, the rows and the day's rollups and sketches back.
    let r = archive::restore_day(&db, &s, a, old[2], 7)
        .await
        .expect("restore after pruning");
    assert_eq!((r.rows, r.inserted), (51, 51));
    assert!(r.rollup_rows > 0, "{r:?}");
    assert!(partition_exists(&db, old[2]).await);
    assert_eq!(fingerprint(&db, a, old[2]).await, before[2]);
    let (lo, hi) = archive::day_bounds(old[2]);
    let (events, sketches): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT sum(events)::bigint FROM rollup_hour WHERE project_id = $1 AND dim = '' AND bucket >= $2 AND bucket < $3), \
                (SELECT count(*) FROM rollup_uniques_day WHERE project_id = $1 AND bucket = $2)",
    )
    .bind(a)
    .bind(lo)
    .bind(hi)
    .fetch_one(db.pool())
    .await
    .expect("rebuilt rollups");
    assert_eq!((events, sketches), (Some(51), 1));

    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_timer_archives_expired_days_by_itself_unless_the_queue_is_paused() {
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let url = dir.display().to_string();
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_MAINTENANCE_INTERVAL_SECS".into(), "1".into());
        env.insert("SIGHTLINE_ARCHIVE_URL".into(), url.clone());
    })
    .await;
    let db = app.db.clone();
    let a = app.project.id;
    let day = Utc::now().date_naive() - Span::days(3);
    track(&app, &app.project.secret_key, &day_events(day, 30, "t")).await;
    assert_eq!(app.wait_for_count(30, Duration::from_secs(20)).await, 30);
    let before = fingerprint(&db, a, day).await;
    // Paused for database work, the timer leaves the database alone: two intervals pass with
    // the day expired and nothing archived.
    assert!(app.queue.pause().await.expect("pause"));
    // A pass that began before the pause ends well within this.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    projects::update(&db, a, set_retention(Some(2), None))
        .await
        .expect("retention");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(archive::archived_days(&db, a)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(count(&db, a).await, 30);
    assert!(app.queue.resume().await.expect("resume"));
    // Resumed, the timer drains DEFAULT into the day's partition, then archives it.
    let mut archived = Vec::new();
    for _ in 0..100 {
        archived = archive::archived_days(&db, a).await.expect("list");
        if !archived.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(archived, vec![(day, 30)]);
    assert_eq!(count(&db, a).await, 0);
    let s = ArchiveStore::open(&url).expect("store");
    let r = archive::restore_day(&db, &s, a, day, 1)
        .await
        .expect("restore");
    assert_eq!(r.inserted, 30);
    assert_eq!(fingerprint(&db, a, day).await, before);
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether any file under `dir` contains `needle` once gunzipped.
fn archive_mentions(dir: &std::path::Path, needle: &str) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                let gz = std::fs::read(&path).expect("read part");
                let mut csv = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(gz.as_slice()),
                    &mut csv,
                )
                .expect("gunzip");
                if csv.contains(needle) {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_purged_after_archiving_never_comes_back() {
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let url = dir.display().to_string();
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_MAINTENANCE_INTERVAL_SECS".into(), "3600".into());
        env.insert("SIGHTLINE_ROLLUP_MINUTE_DAYS".into(), "30".into());
    })
    .await;
    let db = app.db.clone();
    let a = app.project.id;
    let day = Utc::now().date_naive() - Span::days(3);
    // 30 events; "g-u0" has 5 of them (every sixth).
    track(&app, &app.project.secret_key, &day_events(day, 30, "g")).await;
    assert_eq!(app.wait_for_count(30, Duration::from_secs(20)).await, 30);
    partitions::maintain(&db, 3).await.expect("maintain");
    projects::update(&db, a, set_retention(Some(2), None))
        .await
        .expect("retention");
    let mut store = LazyStore::new(url.clone());
    let opts = RetentionOptions {
        minute_days: 30,
        dry_run: false,
    };
    let run = run_retention(&db, &mut store, &opts).await.expect("run");
    assert_eq!(run.archived.len(), 1, "{run:?}");
    assert!(archive_mentions(&dir, "g-u0"));

    // The purge finds no raw events (all archived) but removes the profile.
    let purged = sightline::storage::users::purge(&db, a, &"g-u0".try_into().expect("an id"))
        .await
        .expect("purge");
    assert_eq!((purged.events, purged.users), (0, 1));

    // A restore withholds their rows and takes them out of the day's rollups.
    let s = ArchiveStore::open(&url).expect("store");
    let r = archive::restore_day(&db, &s, a, day, 7)
        .await
        .expect("restore");
    assert_eq!((r.rows, r.withheld, r.inserted), (30, 5, 25));
    assert!(r.rollup_rows > 0, "rollups rebuilt without the purged user");
    let (theirs,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM activities WHERE project_id = $1 AND user_id = 'g-u0'",
    )
    .bind(a)
    .fetch_one(db.pool())
    .await
    .expect("count");
    assert_eq!(theirs, 0);
    assert_eq!(rollup_total(&db, a).await, 25);
    assert_no_differences(&db, a, day, day + Span::days(1)).await;

    // Rewriting the day leaves one part without them; the old file is gone.
    let (r, archived) = archive::rewrite_day(&db, &s, a, day)
        .await
        .expect("rewrite");
    assert_eq!((r.withheld, r.inserted, archived.rows), (5, 0, 25));
    assert!(!archive_mentions(&dir, "g-u0"));
    assert!(archive_mentions(&dir, "g-u3"));
    assert_eq!(
        archive::archived_days(&db, a).await.expect("list"),
        vec![(day, 25)]
    );
    assert_eq!(count(&db, a).await, 0);
    let r = archive::restore_day(&db, &s, a, day, 7)
        .await
        .expect("restore the rewritten day");
    assert_eq!((r.parts, r.rows, r.withheld, r.inserted), (1, 25, 0, 25));
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_while_an_expired_partition_is_being_dropped_is_kept() {
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let url = dir.display().to_string();
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_MAINTENANCE_INTERVAL_SECS".into(), "3600".into());
        env.insert("SIGHTLINE_ARCHIVE_URL".into(), url.clone());
    })
    .await;
    let db = app.db.clone();
    let a = app.project.id;
    let opts = RetentionOptions {
        minute_days: 30,
        dry_run: false,
    };
    projects::update(&db, a, set_retention(Some(2), None))
        .await
        .expect("retention");
    // One pass first, so the expired partitions that are already empty are gone.
    run_retention(&db, &mut LazyStore::new(url.clone()), &opts)
        .await
        .expect("settle");
    let day = Utc::now().date_naive() - Span::days(5);
    sqlx::query("SELECT sightline_ensure_day_partition($1)")
        .bind(day)
        .execute(db.pool())
        .await
        .expect("partition");
    // A writer (a restore, a late event) has a row of that day in flight when the drop starts.
    let mut writer = db.pool().begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO activities (event_id, project_id, event_type, occurred_at, received_at) \
         VALUES ($1, $2, 'page.view', $3, now())",
    )
    .bind(Uuid::new_v4())
    .bind(a)
    .bind(day.and_hms_opt(12, 0, 0).expect("time").and_utc())
    .execute(&mut *writer)
    .await
    .expect("insert");
    let run = tokio::spawn({
        let (db, url) = (db.clone(), url.clone());
        async move { run_retention(&db, &mut LazyStore::new(url), &opts).await }
    });
    // Commit only once the drop waits for the writer's lock (whether it checked emptiness
    // before or after taking it is what this test tells apart).
    let mut waiting = false;
    for _ in 0..200 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(db.pool())
        .await
        .expect("locks");
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(waiting, "the drop never waited for the writer");
    writer.commit().await.expect("commit");
    run.await.expect("join").expect("retention");
    // The row is either still there or, if a later pass found the committed row of an expired
    // day (the worker's start-up pass may still be queued behind ours), archived: never gone.
    let kept = count(&db, a).await;
    let archived = archive::archived_days(&db, a).await.expect("list");
    assert!(
        (kept, archived.as_slice()) == (1, &[][..])
            || (kept, archived.as_slice()) == (0, &[(day, 1)][..]),
        "the committed row was lost: {kept} rows, archived {archived:?}"
    );
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
