//! Guards that existed before any test held them: account grants, user-level data kept from
//! viewers, the token checks (issuer, algorithm pinning, expiry), rotated keys, and archive
//! restores that refuse a tampered or foreign archive.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use sightline::app::Mode;
use sightline::auth::{JwtKeys, Role};
use sightline::storage::archive::{self, ArchiveStore};

use crate::helpers::{code, spawn_app, spawn_app_with, token, TestApp, TestSql, JWT_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_admin_cannot_create_an_admin() {
    let app = spawn_app().await;
    let p = app.project.id.to_string();
    let scoped = token(&app, Role::Admin, Some(&[app.project.id]));
    let create = |role: &str| {
        format!(
            "mutation($p: ID!) {{ createAccount(email: \"{role}@b.example\", password: \"a long enough password\", role: {role}, projectIds: [$p]) {{ id role }} }}"
        )
    };
    let r = app
        .graphql(Some(&scoped), &create("ADMIN"), json!({"p": p}))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM accounts WHERE email = 'admin@b.example'")
            .fetch_one(app.db.pool())
            .await
            .expect("count");
    assert_eq!(n, 0, "no account was created");
    // What it may grant, it can.
    let r = app
        .graphql(Some(&scoped), &create("ANALYST"), json!({"p": p}))
        .await;
    assert_eq!(r["data"]["createAccount"]["role"], "analyst", "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_gets_no_member_ids_nor_timelines() {
    let app = spawn_app().await;
    let mut e = crate::helpers::event("page.view");
    e["user_id"] = json!("u-1");
    e["community_id"] = json!("c-1");
    assert_eq!(app.track_with(&app.project.secret_key, &[e]).await, 202);
    assert_eq!(app.wait_for_count(1, Duration::from_secs(10)).await, 1);
    let p = app.project.id.to_string();
    let q = "query($p: ID!) { user(projectId: $p, id: \"u-1\") { id timeline { type } } community(projectId: $p, id: \"c-1\") { id memberIds } }";
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let r = app.graphql(Some(&viewer), q, json!({"p": p})).await;
    let errors = r["errors"].as_array().cloned().unwrap_or_default();
    let refused: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["path"]
                    .as_array()
                    .and_then(|p| p.last())
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                e["extensions"]["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    // A viewer reaches no tracked user at all (`user` is analyst and up), so no timeline.
    assert!(
        refused.contains(&("user".into(), "FORBIDDEN".into())),
        "{r}"
    );
    assert!(r["data"]["user"].is_null(), "{r}");
    assert!(
        !r.to_string().contains("page.view"),
        "no timeline leaked: {r}"
    );
    assert!(
        refused.contains(&("memberIds".into(), "FORBIDDEN".into())),
        "{r}"
    );
    assert!(
        !r.to_string().contains("\"u-1\"]"),
        "no member id leaked: {r}"
    );
    // An analyst sees both.
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let r = app.graphql(Some(&analyst), q, json!({"p": p})).await;
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(r["data"]["community"]["memberIds"], json!(["u-1"]), "{r}");
    assert_eq!(r["data"]["user"]["timeline"][0]["type"], "page.view", "{r}");
    app.stop().await;
}

/// A token signed with `key` under `header`, with the standard claims and `overrides`.
fn forge(
    header: jsonwebtoken::Header,
    key: &jsonwebtoken::EncodingKey,
    overrides: Value,
) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "sub": "forger", "role": "admin", "projects": ["*"],
        "iat": now, "exp": now + 600, "iss": "sightline", "aud": "sightline",
    });
    for (k, v) in overrides.as_object().expect("an object") {
        claims[k] = v.clone();
    }
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.graphql(Some(token), "{ me { subject role } }", json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_a_wrong_issuer_audience_or_expiry_are_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let app = spawn_app().await;
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let hs = || Header::new(Algorithm::HS256);
    // The control: the same forging with nothing wrong is accepted.
    let good = forge(hs(), &key, json!({}));
    assert_eq!(me(&app, &good).await["data"]["me"]["subject"], "forger");
    for (why, overrides) in [
        ("wrong issuer", json!({"iss": "someone-else"})),
        ("wrong audience", json!({"aud": "another-service"})),
        (
            "expired",
            json!({"exp": Utc::now().timestamp() - 60, "iat": Utc::now().timestamp() - 700}),
        ),
    ] {
        let t = forge(hs(), &key, overrides);
        let r = me(&app, &t).await;
        assert_eq!(code(&r), "UNAUTHENTICATED", "{why}: {r}");
        assert!(r["data"]["me"].is_null(), "{why}: {r}");
    }
    // A token that expires while in use stops working at its expiry.
    let short = JwtKeys::from_settings(&app.settings.jwt)
        .expect("keys")
        .issue(
            "short-lived",
            Role::Admin,
            None,
            Some(Duration::from_secs(1)),
        )
        .expect("token");
    assert_eq!(
        me(&app, &short).await["data"]["me"]["subject"],
        "short-lived"
    );
    // Past the expiry and the 5 s leeway.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(code(&me(&app, &short).await), "UNAUTHENTICATED");
    app.stop().await;
}

/// An RSA key pair made by the openssl CLI: (private PEM path, public PEM path).
async fn rsa_pair(dir: &std::path::Path) -> (String, String) {
    std::fs::create_dir_all(dir).expect("dir");
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let ok = tokio::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .status()
        .await
        .expect("openssl runs");
    assert!(ok.success());
    let ok = tokio::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .await
        .expect("openssl runs");
    assert!(ok.success());
    (private.display().to_string(), public.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_server_refuses_hs256_tokens_made_with_its_public_key() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let dir = std::env::temp_dir().join(format!("sightline-rsa-{}", Uuid::new_v4()));
    let (private, public) = rsa_pair(&dir).await;
    let app = spawn_app_with(Mode::Serve, |env| {
        env.remove("SIGHTLINE_JWT_SECRET");
        env.insert("SIGHTLINE_JWT_PUBLIC_KEY_FILE".into(), public.clone());
        env.insert("SIGHTLINE_JWT_PRIVATE_KEY_FILE".into(), private.clone());
    })
    .await;
    // Its own RS256 tokens work (the control).
    let rs = token(&app, Role::Admin, None);
    assert_eq!(me(&app, &rs).await["data"]["me"]["role"], "admin");
    let pem = std::fs::read(&public).expect("public key");
    // The classic confusion: HS256 with the (public) key as the HMAC secret.
    let confused = forge(
        Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(&pem),
        json!({}),
    );
    assert_eq!(code(&me(&app, &confused).await), "UNAUTHENTICATED");
    // HS256 with the shared secret of an HS256 deployment is no better.
    let hs = forge(
        Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        json!({}),
    );
    assert_eq!(code(&me(&app, &hs).await), "UNAUTHENTICATED");
    // RS256 from another key pair.
    let (other_private, _) = rsa_pair(&dir.join("other")).await;
    let other =
        EncodingKey::from_rsa_pem(&std::fs::read(other_private).expect("pem")).expect("key");
    let foreign = forge(Header::new(Algorithm::RS256), &other, json!({}));
    assert_eq!(code(&me(&app, &foreign).await), "UNAUTHENTICATED");
    app.stop().await;

    // And an HS256 server refuses RS256 tokens, even validly signed ones.
    let app = spawn_app().await;
    let mine = EncodingKey::from_rsa_pem(&std::fs::read(&private).expect("pem")).expect("key");
    let rs = forge(Header::new(Algorithm::RS256), &mine, json!({}));
    assert_eq!(code(&me(&app, &rs).await), "UNAUTHENTICATED");
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_stop_working_once_the_key_cache_expires() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    let old_public = app.project.public_key.clone();
    let old_secret = app.project.secret_key.clone();
    let beacon = |key: String| {
        let app = &app;
        async move {
            app.collect(&json!({"key": key, "events": [crate::helpers::event("page.view")]}))
                .await
                .status()
                .as_u16()
        }
    };
    let track = |secret: String| {
        let app = &app;
        async move {
            app.track_with(&secret, &[crate::helpers::event("page.view")])
                .await
                .as_u16()
        }
    };
    // Warm the cache with the old keys.
    assert_eq!(beacon(old_public.clone()).await, 202);
    assert_eq!(track(old_secret.clone()).await, 202);
    let r = app
        .graphql(
            Some(&admin),
            "mutation($id: ID!) { rotateKeys(id: $id) { project { publicKey } secretKey } }",
            json!({"id": app.project.id.to_string()}),
        )
        .await;
    let new_public = r["data"]["rotateKeys"]["project"]["publicKey"]
        .as_str()
        .expect("new public key")
        .to_string();
    let new_secret = r["data"]["rotateKeys"]["secretKey"]
        .as_str()
        .expect("new secret key")
        .to_string();
    assert_ne!(new_public, old_public);
    // The new keys work at once (not cached yet); the old ones at most until the cache expires.
    assert_eq!(beacon(new_public.clone()).await, 202);
    assert_eq!(track(new_secret.clone()).await, 202);
    tokio::time::sleep(sightline::ingest::KEY_CACHE_TTL + Duration::from_millis(500)).await;
    assert_eq!(beacon(old_public).await, 401);
    assert_eq!(track(old_secret).await, 401);
    assert_eq!(beacon(new_public).await, 202);
    assert_eq!(track(new_secret).await, 202);
    app.stop().await;
}

/// Yesterday's events of the test project, tracked, stored and archived (rows deleted); returns
/// the day, the archive store and its directory.
async fn archived_day(app: &TestApp, dir: &std::path::Path) -> (chrono::NaiveDate, ArchiveStore) {
    let day = Utc::now().date_naive() - Span::days(1);
    let at = day.and_hms_opt(12, 0, 0).expect("noon").and_utc();
    let events: Vec<Value> = (0..5)
        .map(|i| {
            let mut e = crate::helpers::event("page.view");
            e["ts"] = json!((at + Span::minutes(i)).timestamp_millis());
            e
        })
        .collect();
    assert_eq!(app.track_with(&app.project.secret_key, &events).await, 202);
    assert_eq!(app.wait_for_count(5, Duration::from_secs(10)).await, 5);
    sightline::storage::partitions::maintain(&app.db, 3)
        .await
        .expect("partitions");
    let store = ArchiveStore::open(&dir.display().to_string()).expect("store");
    let done = archive::archive_day(&app.db, &store, app.project.id, day)
        .await
        .expect("archive");
    assert!(done.is_some(), "the day was archived");
    assert_eq!(app.stored_count().await, 0, "archived rows leave the table");
    (day, store)
}

/// The one part of the day: its file and its CSV.
fn the_part(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "gz") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    assert_eq!(files.len(), 1, "{files:?}");
    let gz = std::fs::read(&files[0]).expect("part");
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut csv)
        .expect("gunzip");
    (files.remove(0), csv)
}

/// Writes `csv` as the day's part and records its checksum, as if the record had been
/// rewritten along with the file.
async fn write_part(app: &TestApp, path: &std::path::Path, day: chrono::NaiveDate, csv: &str) {
    use sha2::{Digest, Sha256};
    write_gz(path, csv);
    sqlx::query("UPDATE archive_parts SET sha256 = $1 WHERE project_id = $2 AND day = $3")
        .bind(hex::encode(Sha256::digest(csv.as_bytes())))
        .bind(app.project.id)
        .bind(day)
        .execute(app.db.pool())
        .await
        .expect("rewrite the record");
}

fn write_gz(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(path, enc.finish().expect("gzip")).expect("write part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_restore_refuses_a_checksum_mismatch_and_foreign_rows() {
    let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
    let app = spawn_app().await;
    let (day, store) = archived_day(&app, &dir).await;
    let (path, csv) = the_part(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "archive files are private to the server's user"
        );
    }

    // One changed character: the checksum no longer matches; nothing is restored.
    let tampered = csv.replacen("page.view", "page.vieW", 1);
    assert_ne!(tampered, csv);
    write_gz(&path, &tampered);
    let err = archive::restore_day(&app.db, &store, app.project.id, day, 7)
        .await
        .expect_err("a tampered part is refused");
    assert!(
        err.to_string().contains("does not match its record"),
        "{err}"
    );
    assert_eq!(app.stored_count().await, 0);

    // Rows of another project and of another day, with a checksum that matches (as if the
    // record had been rewritten too): refused as a whole.
    let other = Uuid::new_v4().to_string();
    let own = app.project.id.to_string();
    let next_day = (day + Span::days(1)).format("%Y-%m-%d").to_string();
    let this_day = day.format("%Y-%m-%d").to_string();
    for (what, forged) in [
        ("another project", csv.replacen(&own, &other, 1)),
        ("another day", csv.replacen(&this_day, &next_day, 1)),
    ] {
        assert_ne!(forged, csv, "{what}: the forgery changed something");
        write_part(&app, &path, day, &forged).await;
        let err = archive::restore_day(&app.db, &store, app.project.id, day, 7)
            .await
            .expect_err(what);
        assert!(
            err.to_string().contains("of another project or day"),
            "{what}: {err}"
        );
        assert_eq!(app.stored_count().await, 0, "{what}: nothing restored");
    }

    // The genuine part restores every row (the control).
    write_part(&app, &path, day, &csv).await;
    archive::restore_day(&app.db, &store, app.project.id, day, 7)
        .await
        .expect("the genuine archive restores");
    assert_eq!(app.stored_count().await, 5);
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
