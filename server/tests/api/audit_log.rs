//! The audit log: every administrative action and every login leaves an entry with who, what,
//! from which IP and for which projects; `auditLog` pages through them newest first, and an
//! admin of some projects sees only the entries of their projects.

use serde_json::{json, Value};

use crate::helpers::{cli_output, event, sightline_cli, spawn_app, TestApp, TestSql};

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

async fn ok(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    let r = app.graphql(token, query, vars).await;
    assert!(r["errors"].is_null(), "{query}: {r}");
    r["data"].clone()
}

const PAGE: &str = "query($p: ID, $n: Int!, $a: String) { auditLog(projectId: $p, first: $n, after: $a) { entries { id at actor action projectIds target ip detail } pageInfo { hasNextPage endCursor } } }";

/// Every entry the token may see, newest first, read page by page.
async fn all_entries(app: &TestApp, token: &str, project: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = ok(
            app,
            Some(token),
            PAGE,
            json!({"p": project, "n": 3, "a": after}),
        )
        .await;
        let page = &d["auditLog"];
        out.extend(page["entries"].as_array().expect("entries").iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_and_login_is_recorded_and_scoped_admins_see_their_projects_only() {
    let app = spawn_app().await;
    let root = app.admin_token.clone();
    let a = app.project.id.to_string();
    // What the test does, in order: (actor, action, projects, target).
    let mut done: Vec<(String, &str, Vec<String>, Option<String>)> = Vec::new();
    let admin = "test-admin".to_string();

    let d = ok(
        &app,
        Some(&root),
        "mutation { createProject(name: \"b\") { project { id } } }",
        json!({}),
    )
    .await;
    let b = d["createProject"]["project"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    done.push((admin.clone(), "project.create", vec![b.clone()], None));
    ok(
        &app,
        Some(&root),
        "mutation($p: ID!) { updateProject(id: $p, retentionDays: 40) { id } }",
        json!({"p": a}),
    )
    .await;
    done.push((admin.clone(), "project.update", vec![a.clone()], None));
    ok(
        &app,
        Some(&root),
        "mutation($p: ID!) { rotateKeys(id: $p) { publicKey } }",
        json!({"p": b}),
    )
    .await;
    done.push((admin.clone(), "project.rotate_keys", vec![b.clone()], None));
    let create = "mutation($e: String!, $r: Role!, $p: [ID!]) { createAccount(email: $e, password: \"correct horse battery\", role: $r, projectIds: $p) { id } }";
    let d = ok(
        &app,
        Some(&root),
        create,
        json!({"e": "scoped@example.com", "r": "ADMIN", "p": [a]}),
    )
    .await;
    let scoped_id = d["createAccount"]["id"].as_str().expect("id").to_string();
    done.push((
        admin.clone(),
        "account.create",
        vec![a.clone()],
        Some(scoped_id),
    ));
    let d = ok(
        &app,
        Some(&root),
        create,
        json!({"e": "ana@example.com", "r": "ANALYST", "p": [b]}),
    )
    .await;
    let ana = d["createAccount"]["id"].as_str().expect("id").to_string();
    done.push((
        admin.clone(),
        "account.create",
        vec![b.clone()],
        Some(ana.clone()),
    ));
    let v = json!({"id": ana, "a": a, "b": b});
    ok(&app, Some(&root), "mutation($id: ID!, $a: ID!) { setAccountRole(id: $id, role: VIEWER, projectIds: [$a]) { id } }", v.clone()).await;
    let mut ab = vec![a.clone(), b.clone()];
    ab.sort();
    done.push((admin.clone(), "account.set_role", ab, Some(ana.clone())));
    for (m, action) in [
        ("mutation($id: ID!) { disableAccount(id: $id) { id } }", "account.disable"),
        ("mutation($id: ID!) { enableAccount(id: $id) { id } }", "account.enable"),
        ("mutation($id: ID!) { resetPassword(id: $id, password: \"another good password\") { id } }", "account.reset_password"),
        ("mutation($id: ID!) { signOutEverywhere(accountId: $id) }", "account.sign_out_everywhere"),
    ] {
        ok(&app, Some(&root), m, v.clone()).await;
        done.push((admin.clone(), action, vec![a.clone()], Some(ana.clone())));
    }
    let mut e = event("page.view");
    e["user_id"] = json!("u-7");
    assert_eq!(app.collect_events(&[e]).await.status(), 202);
    app.wait_for_count(1, std::time::Duration::from_secs(10))
        .await;
    ok(
        &app,
        Some(&root),
        "mutation($p: ID!) { purgeUser(projectId: $p, userId: \"u-7\") { events } }",
        json!({"p": a}),
    )
    .await;
    done.push((admin.clone(), "user.purge", vec![a.clone()], None));
    for (m, action) in [
        ("mutation { pauseQueue }", "queue.pause"),
        ("mutation { resumeQueue }", "queue.resume"),
        ("mutation { retryDeadLetters }", "dead_letters.retry"),
        ("mutation { discardDeadLetters }", "dead_letters.discard"),
    ] {
        ok(&app, Some(&root), m, json!({})).await;
        done.push((admin.clone(), action, vec![], None));
    }
    let login = "mutation($e: String!, $pw: String!) { login(email: $e, password: $pw) { token } }";
    let r = app
        .graphql(
            None,
            login,
            json!({"e": "Ana@Example.com", "pw": "a wrong password"}),
        )
        .await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    done.push(("ana@example.com".into(), "login.failure", vec![], None));
    let d = ok(
        &app,
        None,
        login,
        json!({"e": "scoped@example.com", "pw": "correct horse battery"}),
    )
    .await;
    let scoped = d["login"]["token"].as_str().expect("token").to_string();
    done.push(("scoped@example.com".into(), "login.success", vec![], None));
    ok(
        &app,
        Some(&scoped),
        "mutation($id: ID!) { disableAccount(id: $id) { id } }",
        v.clone(),
    )
    .await;
    done.push((
        "scoped@example.com".into(),
        "account.disable",
        vec![a.clone()],
        Some(ana.clone()),
    ));

    // The admin of every project sees every entry, newest first, across pages.
    let entries = all_entries(&app, &root, None).await;
    let seen: Vec<(String, String, Vec<String>)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["projectIds"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .map(|p| p.as_str().unwrap_or_default().to_string())
                    .collect(),
            )
        })
        .collect();
    let want: Vec<(String, String, Vec<String>)> = done
        .iter()
        .rev()
        .map(|(actor, action, projects, _)| (actor.clone(), action.to_string(), projects.clone()))
        .collect();
    assert_eq!(seen, want);
    for (e, (_, action, _, target)) in entries.iter().zip(done.iter().rev()) {
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        if let Some(t) = target {
            assert_eq!(e["target"].as_str(), Some(t.as_str()), "{action}: {e}");
        }
    }
    // Details say what was done: the purge's counts (and a hash, not the purged user's id).
    let purge = entries
        .iter()
        .find(|e| e["action"] == "user.purge")
        .expect("purge");
    assert_eq!(purge["detail"]["events"], 1, "{purge}");
    assert!(!purge.to_string().contains("u-7"), "{purge}");
    let failure = entries
        .iter()
        .find(|e| e["action"] == "login.failure")
        .expect("failure");
    assert_eq!(failure["detail"]["reason"], "password", "{failure}");

    // The admin of project A sees the entries that concern only A, and may not ask for B.
    let mine = all_entries(&app, &scoped, None).await;
    let want_mine: Vec<String> = done
        .iter()
        .rev()
        .filter(|(_, _, projects, _)| !projects.is_empty() && projects.iter().all(|p| *p == a))
        .map(|(_, action, _, _)| action.to_string())
        .collect();
    let got_mine: Vec<String> = mine
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got_mine, want_mine);
    assert_eq!(
        all_entries(&app, &scoped, Some(&a)).await.len(),
        want_mine.len()
    );
    let r = app
        .graphql(Some(&scoped), PAGE, json!({"p": b, "n": 10}))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    // A page size out of bounds is refused.
    let r = app.graphql(Some(&root), PAGE, json!({"n": 0})).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrative_cli_commands_are_recorded_as_the_os_user() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        let mut cmd = sightline_cli();
        cmd.envs(&app.env).env("USER", "ops-alice").args(args);
        cmd
    };
    let mut cmd = run(&["admin", "create", "--email", "cli@example.com"]);
    cmd.env("SIGHTLINE_ADMIN_PASSWORD", "twelve chars");
    cli_output(cmd, "admin create").await;
    let out = cli_output(
        run(&["project", "create", "--name", "from-cli"]),
        "project create",
    )
    .await;
    let project = out
        .lines()
        .find_map(|l| l.strip_prefix("SIGHTLINE_PROJECT_ID="))
        .expect("project id")
        .to_string();
    let p = app.project.id.to_string();
    cli_output(
        run(&["user", "purge", "--project", &p, "--user", "u-9"]),
        "user purge",
    )
    .await;

    // Read back with SQL of the test's own: actor, action, projects, newest last.
    let rows: Vec<(String, String, Vec<uuid::Uuid>)> =
        sqlx::query_as("SELECT actor, action, project_ids FROM audit_log ORDER BY id")
            .fetch_all(app.db.pool())
            .await
            .expect("query");
    let want = vec![
        (
            "cli:ops-alice".to_string(),
            "account.create".to_string(),
            vec![],
        ),
        (
            "cli:ops-alice".to_string(),
            "project.create".to_string(),
            vec![project.parse().expect("uuid")],
        ),
        (
            "cli:ops-alice".to_string(),
            "user.purge".to_string(),
            vec![app.project.id],
        ),
    ];
    assert_eq!(rows, want);
    app.stop().await;
}
