//! Partition granularity on real PostgreSQL: week and month partitions made ahead, DEFAULT
//! drained into a week partition, a change of granularity over existing day partitions (no
//! overlap, no gap), and retention archiving and dropping a week partition.

use chrono::{Datelike, Duration as Span, NaiveDate, Utc, Weekday};
use uuid::Uuid;

use sightline::config::PartitionUnit;
use sightline::domain::RetentionDays;
use sightline::storage::retention::{self, LazyStore, RetentionOptions};
use sightline::storage::{partitions, projects, Db};

use crate::helpers::{spawn_app_with, TestSql};

/// Stores a bare event at noon of `day` and returns the partition it landed in.
async fn store_at(db: &Db, project: Uuid, day: NaiveDate) -> String {
    let at = day.and_hms_opt(12, 0, 0).expect("time").and_utc();
    let (part,): (String,) = sqlx::query_as(
        "INSERT INTO activities (event_id, project_id, event_type, occurred_at, received_at) \
         VALUES (gen_random_uuid(), $1, 'page.view', $2, now()) RETURNING tableoid::regclass::text",
    )
    .bind(project)
    .bind(at)
    .fetch_one(db.pool())
    .await
    .expect("insert");
    part
}

async fn partition_of(db: &Db, day: NaiveDate) -> Option<String> {
    let (name,): (Option<String>,) = sqlx::query_as("SELECT sightline_partition_of($1)")
        .bind(day)
        .fetch_one(db.pool())
        .await
        .expect("partition_of");
    name
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Span::days(day.weekday().num_days_from_monday().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn week_and_month_partitions_cover_every_day_once_and_expire_whole() {
    // No worker: this test is the only one making partitions (the worker's timer would drain
    // DEFAULT on its own schedule).
    let app = spawn_app_with(sightline::app::Mode::Serve, |_| {}).await;
    partitions::maintain(&app.db, 7).await.expect("daily");
    let db = app.db.clone();
    let p = app.project.id;
    let today = Utc::now().date_naive();

    // An old event waits in DEFAULT until maintenance gives it a (week) partition.
    let old = today - Span::days(40);
    assert_eq!(store_at(&db, p, old).await, "activities_default");

    // Day partitions exist up to a week ahead (migration and startup); switching to weeks
    // fills the rest of that week with days, then makes whole weeks.
    let created = partitions::maintain_with(&db, 27, PartitionUnit::Week)
        .await
        .expect("maintain");
    assert!(created >= 3, "{created}");
    let week_of_old = format!("activities_w{}", monday(old).format("%Y%m%d"));
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM activities_default")
        .fetch_one(db.pool())
        .await
        .expect("default");
    assert_eq!(left, 0, "DEFAULT drained");
    assert_eq!(
        partition_of(&db, old).await.as_deref(),
        Some(week_of_old.as_str())
    );
    let mut weeks = 0;
    for d in 0..=27 {
        let day = today + Span::days(d);
        let part = partition_of(&db, day)
            .await
            .unwrap_or_else(|| panic!("{day} has no partition"));
        // Rows go where the name says.
        assert_eq!(store_at(&db, p, day).await, part, "{day}");
        if part.starts_with("activities_w") {
            weeks += 1;
            assert_eq!(
                part,
                format!("activities_w{}", monday(day).format("%Y%m%d"))
            );
        } else {
            assert_eq!(part, format!("activities_p{}", day.format("%Y%m%d")));
            assert!(d <= 13, "{day}: day partitions only until weeks line up");
        }
    }
    assert!(weeks >= 14, "{weeks} days in week partitions");
    let next_monday = monday(today + Span::days(14));
    assert_eq!(next_monday.weekday(), Weekday::Mon);

    // Months: the first month free of other partitions is one partition; a month that
    // overlaps a day partition gets day partitions instead, never an error.
    let far = today + Span::days(200);
    let first = far.with_day(1).expect("first of month");
    let fifteenth = far.with_day(15).expect("15th");
    let (made,): (bool,) = sqlx::query_as("SELECT sightline_ensure_partition($1, 'day')")
        .bind(fifteenth)
        .fetch_one(db.pool())
        .await
        .expect("day partition");
    assert!(made);
    let (made,): (bool,) = sqlx::query_as("SELECT sightline_ensure_partition($1, 'month')")
        .bind(first)
        .fetch_one(db.pool())
        .await
        .expect("month over a day");
    assert!(made);
    assert_eq!(
        partition_of(&db, first).await,
        Some(format!("activities_p{}", first.format("%Y%m%d")))
    );
    let later = today + Span::days(300);
    let (made,): (bool,) = sqlx::query_as("SELECT sightline_ensure_partition($1, 'month')")
        .bind(later)
        .fetch_one(db.pool())
        .await
        .expect("month");
    assert!(made);
    let month = format!("activities_m{}", later.format("%Y%m"));
    assert_eq!(
        partition_of(&db, later).await.as_deref(),
        Some(month.as_str())
    );
    assert_eq!(
        store_at(&db, p, later.with_day(1).expect("first")).await,
        month
    );
    // The daily function used elsewhere (restore, generate) respects wider partitions.
    let (made,): (bool,) = sqlx::query_as("SELECT sightline_ensure_day_partition($1)")
        .bind(later)
        .fetch_one(db.pool())
        .await
        .expect("covered day");
    assert!(!made);
    let err = sqlx::query("SELECT sightline_ensure_partition($1, 'hour')")
        .bind(later)
        .execute(db.pool())
        .await
        .expect_err("bad unit");
    assert!(err.to_string().contains("day, week or month"), "{err}");

    // Retention archives the old week's rows day by day and drops the week once empty.
    projects::update(
        &db,
        p,
        projects::ProjectUpdate {
            retention_days: Some(RetentionDays::parse(30, "days").expect("30")),
            ..Default::default()
        },
    )
    .await
    .expect("retention");
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let mut store = LazyStore::new(dir.display().to_string());
    let opts = RetentionOptions {
        minute_days: 3,
        dry_run: false,
    };
    let run = retention::run(&db, &mut store, &opts)
        .await
        .expect("retention");
    assert_eq!(run.archived.len(), 1, "{run:?}");
    assert_eq!((run.archived[0].day, run.archived[0].rows), (old, 1));
    assert!(run.dropped.contains(&week_of_old), "{run:?}");
    assert_eq!(partition_of(&db, old).await, None);

    // Workers configured differently may run at once: both finish, every day covered once.
    let (a, b) = tokio::join!(
        partitions::maintain_with(&db, 120, PartitionUnit::Day),
        partitions::maintain_with(&db, 120, PartitionUnit::Month),
    );
    a.expect("day maintenance");
    b.expect("month maintenance");
    for d in 0..=120 {
        let day = today + Span::days(d);
        let part = partition_of(&db, day).await.expect("covered");
        assert_eq!(store_at(&db, p, day).await, part, "{day}");
    }
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Rows moving out of DEFAULT into a new partition are never missing to a reader that runs
/// meanwhile: the reader waits for the move and then sees them in their new partition (without
/// the lock on the parent it would plan with the old partition list, wait on DEFAULT, and find
/// the rows in neither).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_during_a_default_drain_counts_every_row() {
    let app = spawn_app_with(sightline::app::Mode::Serve, |_| {}).await;
    let db = app.db.clone();
    let p = app.project.id;
    let old = Utc::now().date_naive() - Span::days(20);
    for _ in 0..5 {
        assert_eq!(store_at(&db, p, old).await, "activities_default");
    }
    let count = "SELECT count(*) FROM activities WHERE project_id = $1";
    // The move runs in a transaction left open while the reader starts.
    let mut mover = db.pool().begin().await.expect("begin");
    let (made,): (bool,) = sqlx::query_as("SELECT sightline_ensure_partition($1, 'day')")
        .bind(old)
        .fetch_one(&mut *mover)
        .await
        .expect("move out of DEFAULT");
    assert!(made);
    let reader = {
        let db = db.clone();
        tokio::spawn(async move {
            let (n,): (i64,) = sqlx::query_as(count)
                .bind(p)
                .fetch_one(db.pool())
                .await
                .expect("count");
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the reader waits for the move");
    mover.commit().await.expect("commit");
    assert_eq!(
        reader.await.expect("reader"),
        5,
        "no row is missing to the reader"
    );
    assert_eq!(
        partition_of(&db, old).await.as_deref(),
        Some(format!("activities_p{}", old.format("%Y%m%d")).as_str())
    );
}
