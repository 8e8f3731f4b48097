//! Audience against a ground truth: visits with known user agents, client addresses, referrers
//! and campaign tags are tracked server-side on behalf of browsers (`ip`, `userAgent`), and every
//! breakdown, filtered answer, bot count and identity-merged figure is compared with the same
//! figure computed here from the generated events. The expected attributes of each event are
//! written down here (what a Chrome on Windows is, which channel a Google referrer is, the
//! country of an address read from the GeoIP database with the `maxminddb` crate directly),
//! never read back from the product. Ranges are cut in non-UTC time zones: New York midnights
//! are whole UTC hours (rollups), Kolkata's are on the half hour (raw events).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use uuid::Uuid;

use sightline::app::Mode;
use sightline::auth::{JwtKeys, Role};

use crate::helpers::{spawn_app_with, TestApp};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// A browser as the truth knows it: user agent, browser (with major version), OS, device kind,
/// viewport width and its screen class.
struct Browser {
    ua: &'static str,
    browser: &'static str,
    version: &'static str,
    os: &'static str,
    device: &'static str,
    width: u32,
    screen: &'static str,
}

const BROWSERS: [Browser; 3] = [
    Browser {
        ua: CHROME_WINDOWS,
        browser: "Chrome",
        version: "Chrome 120",
        os: "Windows",
        device: "desktop",
        width: 1280,
        screen: "laptop",
    },
    Browser {
        ua: SAFARI_IOS,
        browser: "Safari",
        version: "Safari 17",
        os: "iOS",
        device: "mobile",
        width: 390,
        screen: "mobile",
    },
    Browser {
        ua: FIREFOX_LINUX,
        browser: "Firefox",
        version: "Firefox 121",
        os: "Linux",
        device: "desktop",
        width: 1600,
        screen: "desktop",
    },
];

/// Public addresses of well-known networks; their countries come from the database.
const IPS: [&str; 4] = ["8.8.8.8", "81.2.69.160", "133.242.0.3", "193.0.6.139"];

/// Where a visit came from, and what the channel table (docs/API.md) makes of it.
struct Origin {
    referrer: Option<&'static str>,
    query: &'static str,
    source: &'static str,
    channel: &'static str,
    referrer_host: Option<&'static str>,
    utm: [Option<&'static str>; 3],
}

const ORIGINS: [Origin; 5] = [
    Origin {
        referrer: Some("https://www.google.com/search?q=sightline"),
        query: "",
        source: "Google",
        channel: "Organic Search",
        referrer_host: Some("google.com"),
        utm: [None, None, None],
    },
    Origin {
        referrer: Some("https://www.facebook.com/"),
        query: "",
        source: "Facebook",
        channel: "Organic Social",
        referrer_host: Some("facebook.com"),
        utm: [None, None, None],
    },
    Origin {
        referrer: None,
        query: "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        source: "newsletter",
        channel: "Email",
        referrer_host: None,
        utm: [Some("newsletter"), Some("email"), Some("spring")],
    },
    Origin {
        referrer: Some("https://blog.example.org/post/1"),
        query: "",
        source: "blog.example.org",
        channel: "Referral",
        referrer_host: Some("blog.example.org"),
        utm: [None, None, None],
    },
    Origin {
        referrer: None,
        query: "",
        source: "Direct / None",
        channel: "Direct",
        referrer_host: None,
        utm: [None, None, None],
    },
];

/// One generated event, with what the truth expects of it.
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    anon: Option<String>,
    user: Option<String>,
    session: Option<String>,
    path: &'static str,
    at: DateTime<Utc>,
    ua: Option<&'static str>,
    ip: Option<&'static str>,
    referrer: Option<&'static str>,
    query: &'static str,
    width: Option<u32>,
    language: Option<&'static str>,
    webdriver: bool,
    plan: Option<&'static str>,
    bot: bool,
    /// The visit's expected attributes, by API dimension name.
    dims: BTreeMap<&'static str, String>,
}

impl Ev {
    fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.at.timestamp_millis(),
            "url": format!("https://shop.example{}{}", self.path, self.query),
            "props": {},
        });
        let mut set = |k: &str, x: Option<Value>| {
            if let Some(x) = x {
                v[k] = x;
            }
        };
        set("anonymous_id", self.anon.clone().map(Value::from));
        set("user_id", self.user.clone().map(Value::from));
        set("session_id", self.session.clone().map(Value::from));
        set("userAgent", self.ua.map(Value::from));
        set("ip", self.ip.map(Value::from));
        set("referrer", self.referrer.map(Value::from));
        set("screen_width", self.width.map(Value::from));
        set("language", self.language.map(Value::from));
        if self.webdriver {
            v["webdriver"] = json!(true);
        }
        if let Some(p) = self.plan {
            v["props"]["plan"] = json!(p);
        }
        v
    }

    /// The visitor breakdowns count: the anonymous id, else the user id.
    fn visitor(&self) -> Option<&str> {
        self.anon.as_deref().or(self.user.as_deref())
    }

    /// The key of this event under an API dimension (None: not counted under it).
    fn key(&self, dim: &str) -> Option<String> {
        match dim {
            "PAGE" => Some(self.path.to_string()),
            "EVENT_TYPE" => Some(self.kind.to_string()),
            // Events without the property count under "(none)".
            "PROPERTY" => Some(self.plan.unwrap_or("(none)").to_string()),
            d => self.dims.get(d).cloned(),
        }
    }
}

/// The country the database gives an address, read here with the `maxminddb` crate (either
/// layout: ip-location-db's `country_code`, MaxMind's `country.iso_code`).
fn countries(db: &str) -> BTreeMap<&'static str, String> {
    #[derive(serde::Deserialize)]
    struct Iso {
        iso_code: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Rec {
        country_code: Option<String>,
        country: Option<Iso>,
    }
    let reader = maxminddb::Reader::open_readfile(db).expect("open the GeoIP database");
    IPS.iter()
        .map(|ip| {
            let addr: IpAddr = ip.parse().expect("an address");
            let rec: Option<Rec> = reader
                .lookup(addr)
                .expect("lookup")
                .decode()
                .expect("decode");
            let code = rec
                .and_then(|r| r.country_code.or(r.country.and_then(|c| c.iso_code)))
                .unwrap_or_else(|| "unknown".into());
            (*ip, code)
        })
        .collect()
}

/// The expected attributes of a visit.
fn visit_dims(
    b: &Browser,
    o: &Origin,
    country: &str,
    language: &str,
) -> BTreeMap<&'static str, String> {
    let mut d = BTreeMap::new();
    d.insert("SOURCE", o.source.to_string());
    d.insert("CHANNEL", o.channel.to_string());
    if let Some(h) = o.referrer_host {
        d.insert("REFERRER", h.to_string());
    }
    for (name, v) in ["UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN"]
        .iter()
        .zip(o.utm)
    {
        if let Some(v) = v {
            d.insert(*name, v.to_string());
        }
    }
    d.insert("BROWSER", b.browser.to_string());
    d.insert("BROWSER_VERSION", b.version.to_string());
    d.insert("OS", b.os.to_string());
    d.insert("DEVICE", b.device.to_string());
    d.insert("SCREEN", b.screen.to_string());
    d.insert("LANGUAGE", language.to_string());
    d.insert("COUNTRY", country.to_string());
    d
}

/// 12 visitors over 2 days, 2 visits each (a page view from somewhere, a second page, a
/// click), from three browsers, four addresses and five origins; visitor 0 signs up partway
/// (anonymous visit, `user.identify`, identified visit, and a server-side event with the user id
/// alone); a Googlebot crawls, and an automated Chrome (webdriver) visits once.
fn dataset(day0: DateTime<Utc>, country: &BTreeMap<&'static str, String>) -> Vec<Ev> {
    let mut out = Vec::new();
    let languages = ["en-US", "fr", "de-DE"];
    for i in 0..12usize {
        let b = &BROWSERS[i % 3];
        let ip = IPS[i % 4];
        let anon = format!("anon-{i}");
        for d in 0..2usize {
            let o = &ORIGINS[(i + d) % 5];
            let lang = languages[(i + d) % 3];
            let dims = visit_dims(b, o, &country[ip], lang);
            let start =
                day0 + Span::days(d as i64) + Span::hours(3 + ((i * 5 + d * 7) % 18) as i64);
            let session = format!("s-{i}-{d}");
            // Visitor 0 is identified from its second visit on.
            let user = (i == 0 && d == 1).then(|| "u-0".to_string());
            let mk = |kind: &'static str, path: &'static str, secs: i64| Ev {
                id: Uuid::new_v4(),
                kind,
                anon: Some(anon.clone()),
                user: user.clone(),
                session: Some(session.clone()),
                path,
                at: start + Span::seconds(secs),
                ua: Some(b.ua),
                ip: Some(ip),
                referrer: None,
                query: "",
                width: None,
                language: None,
                webdriver: false,
                plan: None,
                bot: false,
                dims: dims.clone(),
            };
            let mut first = mk("page.view", "/", 0);
            first.referrer = o.referrer;
            first.query = o.query;
            first.width = Some(b.width);
            first.language = Some(lang);
            out.push(first);
            if i == 0 && d == 1 {
                out.push(mk("user.identify", "/", 5));
            }
            // Later pages come from the site itself: they count under the visit's source.
            let mut second = mk(
                "page.view",
                if i % 2 == 0 { "/pricing" } else { "/docs" },
                40,
            );
            second.referrer = Some("https://shop.example/");
            second.width = Some(b.width);
            second.language = Some(lang);
            let page = second.path;
            out.push(second);
            let mut click = mk("element.click", page, 60);
            click.plan = Some(if i % 3 == 0 { "pro" } else { "free" });
            out.push(click);
        }
    }
    // The signed-up visitor's purchase, sent by the backend with the user id only: no browser,
    // no session, no address (its own attributes: an unknown device from nowhere, direct).
    let mut own = BTreeMap::new();
    own.insert("SOURCE", "Direct / None".to_string());
    own.insert("CHANNEL", "Direct".to_string());
    for k in ["BROWSER", "OS", "COUNTRY"] {
        own.insert(k, "unknown".to_string());
    }
    own.insert("BROWSER_VERSION", "unknown".to_string());
    own.insert("DEVICE", "desktop".to_string());
    out.push(Ev {
        id: Uuid::new_v4(),
        kind: "signup.completed",
        anon: None,
        user: Some("u-0".into()),
        session: None,
        path: "/pricing",
        at: day0 + Span::days(1) + Span::hours(22),
        ua: None,
        ip: None,
        referrer: None,
        query: "",
        width: None,
        language: None,
        webdriver: false,
        plan: Some("pro"),
        bot: false,
        dims: own,
    });
    // Bots: a crawler's two page views, and an automated Chrome's visit.
    for (n, path) in ["/", "/pricing"].iter().enumerate() {
        out.push(Ev {
            id: Uuid::new_v4(),
            kind: "page.view",
            anon: Some("crawler".into()),
            user: None,
            session: Some("s-bot".into()),
            path,
            at: day0 + Span::hours(10) + Span::minutes(n as i64),
            ua: Some(GOOGLEBOT),
            ip: Some(IPS[0]),
            referrer: None,
            query: "",
            width: None,
            language: None,
            webdriver: false,
            plan: None,
            bot: true,
            // What the truth knows of a crawler (its browser and OS names are the parser's).
            dims: BTreeMap::from([
                ("DEVICE", "bot".to_string()),
                ("SOURCE", "Direct / None".to_string()),
                ("CHANNEL", "Direct".to_string()),
                ("COUNTRY", country[IPS[0]].clone()),
            ]),
        });
    }
    out.push(Ev {
        id: Uuid::new_v4(),
        kind: "page.view",
        anon: Some("automated".into()),
        user: None,
        session: Some("s-webdriver".into()),
        path: "/pricing",
        at: day0 + Span::hours(11),
        ua: Some(CHROME_WINDOWS),
        ip: Some(IPS[1]),
        referrer: None,
        query: "",
        width: Some(1280),
        language: Some("en-US"),
        webdriver: true,
        plan: None,
        bot: true,
        dims: visit_dims(&BROWSERS[0], &ORIGINS[4], &country[IPS[1]], "en-US"),
    });
    out
}

/// A breakdown row's figures: visitors, visits, events, page views.
type Figures = (i64, i64, i64, i64);

struct Truth<'a> {
    evs: Vec<&'a Ev>,
}

impl<'a> Truth<'a> {
    fn new(all: &'a [Ev], from: DateTime<Utc>, to: DateTime<Utc>, bots: bool) -> Self {
        Self {
            evs: all
                .iter()
                .filter(|e| e.at >= from && e.at < to && (bots || !e.bot))
                .collect(),
        }
    }

    fn filtered(&self, keep: impl Fn(&Ev) -> bool) -> Truth<'a> {
        Truth {
            evs: self.evs.iter().copied().filter(|e| keep(e)).collect(),
        }
    }

    fn figures<'b>(evs: impl Iterator<Item = &'b &'a Ev>) -> Figures
    where
        'a: 'b,
    {
        let (mut visitors, mut visits) = (BTreeSet::new(), BTreeSet::new());
        let (mut events, mut views) = (0, 0);
        for e in evs {
            visitors.extend(e.visitor());
            visits.extend(e.session.as_deref());
            events += 1;
            views += (e.kind == "page.view") as i64;
        }
        (visitors.len() as i64, visits.len() as i64, events, views)
    }

    fn breakdown(&self, dim: &str) -> BTreeMap<String, Figures> {
        let keys: BTreeSet<String> = self.evs.iter().filter_map(|e| e.key(dim)).collect();
        keys.into_iter()
            .map(|k| {
                let f = Self::figures(self.evs.iter().filter(|e| e.key(dim).as_ref() == Some(&k)));
                (k, f)
            })
            .collect()
    }

    fn visitors(&self) -> i64 {
        Self::figures(self.evs.iter()).0
    }

    /// People: an anonymous id seen with a user id counts as that user (all its events).
    fn people(&self, all: &[Ev]) -> i64 {
        let links: BTreeMap<&str, &str> = all
            .iter()
            .filter(|e| !e.bot)
            .filter_map(|e| Some((e.anon.as_deref()?, e.user.as_deref()?)))
            .collect();
        self.evs
            .iter()
            .filter_map(|e| {
                e.anon
                    .as_deref()
                    .and_then(|a| links.get(a).copied())
                    .or(e.user.as_deref())
                    .or(e.anon.as_deref())
            })
            .collect::<BTreeSet<_>>()
            .len() as i64
    }
}

const DIMENSIONS: [&str; 16] = [
    "PAGE",
    "REFERRER",
    "SOURCE",
    "CHANNEL",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "BROWSER",
    "BROWSER_VERSION",
    "OS",
    "DEVICE",
    "SCREEN",
    "LANGUAGE",
    "COUNTRY",
    "EVENT_TYPE",
    "PROPERTY",
];

fn rows(v: &Value) -> BTreeMap<String, Figures> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let n = |k: &str| r[k].as_i64().unwrap_or(-1);
                    (
                        r["key"].as_str().unwrap_or_default().to_string(),
                        (n("visitors"), n("visits"), n("events"), n("pageViews")),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn local_midnight(tz: Tz, day: DateTime<Utc>) -> DateTime<Utc> {
    let d = day.with_timezone(&tz).date_naive();
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("a local midnight")
        .with_timezone(&Utc)
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Value {
    json!({"from": from.to_rfc3339(), "to": to.to_rfc3339(), "timeZone": tz.name()})
}

async fn spawn_with_geoip() -> (TestApp, BTreeMap<&'static str, String>) {
    let db = std::env::var("SIGHTLINE_GEOIP_DB")
        .expect("SIGHTLINE_GEOIP_DB is not set: run the tests through ./scripts/test");
    let country = countries(&db);
    let distinct: BTreeSet<&String> = country.values().filter(|c| *c != "unknown").collect();
    assert!(
        distinct.len() >= 2,
        "the test addresses should fall in at least two countries of {db}: {country:?}"
    );
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_GEOIP_DB".into(), db.clone());
    })
    .await;
    (app, country)
}

/// Tracks the events server-side, one request per visit (as a browser's beacons would group
/// them), in order.
async fn track(app: &TestApp, evs: &[Ev]) {
    let mut visits: Vec<Vec<&Ev>> = Vec::new();
    for e in evs {
        match visits.last_mut() {
            Some(v) if e.session.is_some() && v[0].session == e.session => v.push(e),
            _ => visits.push(vec![e]),
        }
    }
    for visit in visits {
        let body: Vec<Value> = visit.iter().map(|e| e.json()).collect();
        let r = app
            .client
            .post(format!("{}/api/v1/track", app.address))
            .bearer_auth(&app.project.secret_key)
            .json(&json!({ "events": body }))
            .send()
            .await
            .expect("track");
        let status = r.status();
        let answer: Value = r.json().await.expect("json");
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["rejected"], json!([]), "{answer}");
    }
    let n = evs.len() as i64;
    assert_eq!(app.wait_for_count(n, Duration::from_secs(30)).await, n);
}

const BREAKDOWN: &str =
    "query($p: ID!, $r: TimeRange!, $d: Dimension!, $prop: String, $f: EventFilter) {
    breakdown(projectId: $p, range: $r, dimension: $d, property: $prop, filter: $f, limit: 100) {
        key visitors visits events pageViews share } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdowns_filters_bots_and_identities_equal_a_ground_truth() {
    let (app, country) = spawn_with_geoip().await;
    let today = Utc.from_utc_datetime(
        &Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let day0 = today - Span::days(2);
    let evs = dataset(day0, &country);
    track(&app, &evs).await;
    let token = app.admin_token.as_str();
    let pid = app.project.id.to_string();

    let ny: Tz = "America/New_York".parse().expect("a zone");
    let kolkata: Tz = "Asia/Kolkata".parse().expect("a zone");
    let ranges = [
        // Local days in New York: whole UTC hours, answered from the rollups.
        (
            local_midnight(ny, day0 - Span::days(1)),
            local_midnight(ny, day0 + Span::days(3)),
            ny,
        ),
        (
            local_midnight(ny, day0 + Span::days(1)),
            local_midnight(ny, day0 + Span::days(2)),
            ny,
        ),
        // Kolkata's midnights are on the half hour: raw events.
        (
            local_midnight(kolkata, day0),
            local_midnight(kolkata, day0 + Span::days(2)),
            kolkata,
        ),
    ];
    for (from, to, tz) in ranges {
        let r = range(from, to, tz);
        for bots in [false, true] {
            let t = Truth::new(&evs, from, to, bots);
            let all = t.visitors();
            for dim in DIMENSIONS {
                // Crawlers' browser and OS names are the parser's own: not in the truth.
                if bots && matches!(dim, "BROWSER" | "BROWSER_VERSION" | "OS") {
                    continue;
                }
                let filter = json!({"includeBots": bots});
                let prop = (dim == "PROPERTY").then_some("plan");
                let got = app
                    .graphql(
                        Some(token),
                        BREAKDOWN,
                        json!({"p": pid, "r": r, "d": dim, "prop": prop, "f": filter}),
                    )
                    .await;
                assert!(got["errors"].is_null(), "{dim}: {got}");
                let list = &got["data"]["breakdown"];
                assert_eq!(
                    rows(list),
                    t.breakdown(dim),
                    "{dim} over {from}..{to} ({tz}), bots {bots}"
                );
                for row in list.as_array().into_iter().flatten() {
                    let want = row["visitors"].as_f64().unwrap_or(-1.0) / all as f64;
                    let share = row["share"].as_f64().unwrap_or(-1.0);
                    assert!((share - want).abs() < 1e-9, "{dim} share {row}");
                }
            }
        }

        // Overview: bots left out and counted; back with includeBots; one visitor per person.
        let q = "query($p: ID!, $r: TimeRange!, $f: EventFilter) {
            overview(projectId: $p, range: $r, filter: $f) { events pageViews visitors visitorsExact botEvents } }";
        let human = Truth::new(&evs, from, to, false);
        let every = Truth::new(&evs, from, to, true);
        let o = app.graphql(Some(token), q, json!({"p": pid, "r": r})).await;
        assert!(o["errors"].is_null(), "{o}");
        let o = &o["data"]["overview"];
        assert_eq!(o["events"], json!(human.evs.len()), "{from}..{to}: {o}");
        assert_eq!(
            o["pageViews"],
            json!(human.evs.iter().filter(|e| e.kind == "page.view").count())
        );
        assert_eq!(o["botEvents"], json!(every.evs.len() - human.evs.len()));
        assert_eq!(o["visitors"], json!(human.people(&evs)), "{o}");
        assert_eq!(o["visitorsExact"], json!(true));
        let o = app
            .graphql(
                Some(token),
                q,
                json!({"p": pid, "r": r, "f": {"includeBots": true}}),
            )
            .await;
        let o = &o["data"]["overview"];
        assert_eq!(o["events"], json!(every.evs.len()), "{o}");
        assert_eq!(o["botEvents"], json!(0), "nothing is left out: {o}");

        // Dimension filters narrow overview, timeseries and breakdown alike.
        let c = country[IPS[1]].clone();
        let by_country = human.filtered(|e| e.key("COUNTRY").as_deref() == Some(c.as_str()));
        let f = json!({"where": [{"dimension": "COUNTRY", "values": [c]}]});
        let got = app
            .graphql(
                Some(token),
                "query($p: ID!, $r: TimeRange!, $f: EventFilter) {
                   overview(projectId: $p, range: $r, filter: $f) { events pageViews visitors botEvents }
                   timeseries(projectId: $p, range: $r, metric: EVENTS, interval: DAY, filter: $f) { t value } }",
                json!({"p": pid, "r": r, "f": f}),
            )
            .await;
        assert!(got["errors"].is_null(), "{got}");
        let o = &got["data"]["overview"];
        assert_eq!(o["events"], json!(by_country.evs.len()), "country {c}: {o}");
        assert_eq!(o["visitors"], json!(by_country.people(&evs)));
        let every_c = every.filtered(|e| e.key("COUNTRY").as_deref() == Some(c.as_str()));
        assert_eq!(
            o["botEvents"],
            json!(every_c.evs.len() - by_country.evs.len()),
            "bots of that country: the automated Chrome's"
        );
        let mut per_day: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
        for e in &by_country.evs {
            *per_day.entry(local_midnight(tz, e.at)).or_default() += 1.0;
        }
        for p in got["data"]["timeseries"].as_array().into_iter().flatten() {
            let t: DateTime<Utc> = p["t"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("a time");
            let want = per_day.get(&t).copied().unwrap_or(0.0);
            assert_eq!(p["value"].as_f64(), Some(want), "series {t}: {p}");
        }
        for (where_, keep) in [
            (
                json!([{"dimension": "CHANNEL", "op": "IS_NOT", "values": ["Direct", "Email"]}]),
                Box::new(|e: &Ev| {
                    !matches!(e.key("CHANNEL").as_deref(), Some("Direct") | Some("Email"))
                }) as Box<dyn Fn(&Ev) -> bool>,
            ),
            (
                json!([{"dimension": "SOURCE", "op": "CONTAINS", "values": ["GOO", "book"]},
                       {"dimension": "BROWSER", "values": ["Chrome", "Firefox"]}]),
                Box::new(|e: &Ev| {
                    matches!(
                        e.key("SOURCE").as_deref(),
                        Some("Google") | Some("Facebook")
                    ) && matches!(
                        e.key("BROWSER").as_deref(),
                        Some("Chrome") | Some("Firefox")
                    )
                }),
            ),
            (
                json!([{"dimension": "PROPERTY", "property": "plan", "values": ["pro"]}]),
                Box::new(|e: &Ev| e.plan == Some("pro")),
            ),
        ] {
            let t = human.filtered(keep);
            let got = app
                .graphql(
                    Some(token),
                    BREAKDOWN,
                    json!({"p": pid, "r": r, "d": "PAGE", "f": {"where": where_}}),
                )
                .await;
            assert!(got["errors"].is_null(), "{got}");
            assert_eq!(
                rows(&got["data"]["breakdown"]),
                t.breakdown("PAGE"),
                "{where_}"
            );
        }
    }

    // One person in a funnel across the sign-up: the pricing page was seen anonymously, the
    // purchase was sent with the user id alone.
    let funnel = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) {
               funnel(projectId: $p, range: $r, windowSeconds: 604800, steps: [
                 {eventType: \"page.view\", path: \"/pricing\"}, {eventType: \"signup.completed\"}]) {
                 steps { users } } }",
            json!({"p": pid, "r": range(day0, day0 + Span::days(2), Tz::UTC)}),
        )
        .await;
    assert!(funnel["errors"].is_null(), "{funnel}");
    // People who viewed /pricing (bots left out): the even visitors, 0 included.
    let viewers = (0..12).filter(|i| i % 2 == 0).count();
    assert_eq!(
        funnel["data"]["funnel"]["steps"],
        json!([{"users": viewers}, {"users": 1}]),
        "the anonymous pricing view and the user's purchase are one person's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdown_refuses_bad_input_and_other_projects() {
    let (app, _) = spawn_with_geoip().await;
    let token = app.admin_token.as_str();
    let pid = app.project.id.to_string();
    let now = Utc::now();
    let r = range(now - Span::days(1), now, Tz::UTC);
    let code = |v: &Value| v["errors"][0]["extensions"]["code"].clone();

    let v = app
        .graphql(
            Some(token),
            BREAKDOWN,
            json!({"p": pid, "r": r, "d": "PROPERTY"}),
        )
        .await;
    assert_eq!(code(&v), json!("BAD_USER_INPUT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("property")));
    let v = app
        .graphql(
            Some(token),
            BREAKDOWN,
            json!({"p": pid, "r": r, "d": "PLANET"}),
        )
        .await;
    assert!(v["data"].is_null(), "an unknown dimension is refused: {v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("PLANET")));
    for bad in [
        json!([{"dimension": "COUNTRY", "values": []}]),
        json!([{"dimension": "COUNTRY", "values": ["x".repeat(2000)]}]),
        json!([{"dimension": "PROPERTY", "values": ["pro"]}]),
        // No goal of that name in the project.
        json!([{"dimension": "GOAL", "values": ["signup"]}]),
        // Entry and exit pages are keys of visits (tests/api/goals.rs), not filters.
        json!([{"dimension": "ENTRY_PAGE", "values": ["/"]}]),
        json!([{"dimension": "EXIT_PAGE", "values": ["/"]}]),
    ] {
        let v = app
            .graphql(
                Some(token),
                BREAKDOWN,
                json!({"p": pid, "r": r, "d": "PAGE", "f": {"where": bad}}),
            )
            .await;
        assert_eq!(code(&v), json!("BAD_USER_INPUT"), "{bad}: {v}");
    }
    // A viewer of another project is refused before anything is read.
    let jwt = JwtKeys::from_settings(&app.settings.jwt).expect("keys");
    let other = jwt
        .issue("viewer", Role::Viewer, Some(&[Uuid::new_v4()]), None)
        .expect("token");
    let v = app
        .graphql(
            Some(&other),
            BREAKDOWN,
            json!({"p": pid, "r": r, "d": "COUNTRY"}),
        )
        .await;
    assert_eq!(code(&v), json!("FORBIDDEN"), "{v}");
    let mine = jwt
        .issue("viewer", Role::Viewer, Some(&[app.project.id]), None)
        .expect("token");
    let v = app
        .graphql(
            Some(&mine),
            BREAKDOWN,
            json!({"p": pid, "r": r, "d": "COUNTRY"}),
        )
        .await;
    assert!(v["errors"].is_null(), "a viewer of the project may: {v}");

    // Browsers cannot claim another address or user agent; server-side senders can.
    let mut ev = crate::helpers::event("page.view");
    ev["ip"] = json!("8.8.8.8");
    let resp = app.collect_events(&[ev]).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body.to_string()
            .contains("ip may only be sent by server-side senders"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_browsers_get_a_daily_visitor_id_from_a_salt_that_expires() {
    let app = crate::helpers::spawn_app().await;
    let beacon = |ua: &'static str| {
        let mut e = crate::helpers::event("page.view");
        let o = e.as_object_mut().expect("an object");
        o.remove("anonymous_id");
        o.remove("session_id");
        let body = json!({"key": app.project.public_key, "events": [e]}).to_string();
        app.client
            .post(format!("{}/collect", app.address))
            .header("user-agent", ua)
            .body(body)
            .send()
    };
    for ua in [CHROME_WINDOWS, CHROME_WINDOWS, FIREFOX_LINUX] {
        assert_eq!(beacon(ua).await.expect("beacon").status(), 202);
    }
    assert_eq!(app.wait_for_count(3, Duration::from_secs(10)).await, 3);
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT user_agent, anonymous_id, session_id FROM activities WHERE project_id = $1",
    )
    .bind(app.project.id)
    .fetch_all(crate::helpers::TestSql::pool(&app.db))
    .await
    .expect("rows");
    let ids = |ua: &str| -> BTreeSet<(Option<String>, Option<String>)> {
        rows.iter()
            .filter(|r| r.0 == ua)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    let (chrome, firefox) = (ids(CHROME_WINDOWS), ids(FIREFOX_LINUX));
    assert_eq!(
        chrome.len(),
        1,
        "one browser is one visitor and visit: {chrome:?}"
    );
    assert_eq!(firefox.len(), 1);
    assert_ne!(chrome, firefox, "another browser is another visitor");
    for (anon, session) in chrome.iter().chain(&firefox) {
        assert!(anon
            .as_deref()
            .is_some_and(|a| a.starts_with("cl-") && a.len() == 27));
        assert!(session.as_deref().is_some_and(|s| s.starts_with("cl-")));
    }
    // The day's salt is in Redis only, and goes within 48 hours.
    let mut redis = redis::Client::open(crate::helpers::test_redis_url())
        .expect("redis")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let pattern = app.queue.key("cookieless-salt:*");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await
        .expect("keys");
    assert_eq!(keys.len(), 1, "one salt for today: {keys:?}");
    assert!(keys[0].ends_with(&Utc::now().date_naive().to_string()));
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .expect("ttl");
    assert!(ttl > 0 && ttl <= 48 * 3600, "expires: {ttl}");
}

/// Only events with neither visitor nor visit id are a cookieless browser's: events with their
/// own session id and a user id (no anonymous id) keep their ids as sent, so many people signed
/// in behind one address and browser are not one derived visitor, and none is dropped as spam.
#[tokio::test]
async fn events_with_their_own_visit_get_no_derived_visitor_and_are_not_merged_as_spam() {
    let app = crate::helpers::spawn_app().await;
    // 150 people in two seconds: over the per-visitor burst (two seconds at 50 events/s).
    let events: Vec<Value> = (0..150)
        .map(|i| {
            let mut e = crate::helpers::event("page.view");
            let o = e.as_object_mut().expect("an object");
            o.remove("anonymous_id");
            o.insert("session_id".into(), json!(format!("visit-{i}")));
            o.insert("user_id".into(), json!(format!("member-{i}")));
            e
        })
        .collect();
    let r = app
        .client
        .post(format!("{}/collect", app.address))
        .header("user-agent", CHROME_WINDOWS)
        .body(json!({"key": app.project.public_key, "events": events}).to_string())
        .send()
        .await
        .expect("batch");
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["accepted"], json!(150), "{body}");
    assert_eq!(app.wait_for_count(150, Duration::from_secs(20)).await, 150);
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT user_id, anonymous_id, session_id FROM activities WHERE project_id = $1",
    )
    .bind(app.project.id)
    .fetch_all(crate::helpers::TestSql::pool(&app.db))
    .await
    .expect("rows");
    assert!(rows.iter().all(|r| r.1.is_none()), "no derived visitor id");
    let as_sent: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.0.clone().expect("user"), r.2.clone().expect("session")))
        .collect();
    let sent: BTreeSet<(String, String)> = (0..150)
        .map(|i| (format!("member-{i}"), format!("visit-{i}")))
        .collect();
    assert_eq!(as_sent, sent);
}
