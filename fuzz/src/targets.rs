//! The properties each target checks. Every function takes arbitrary bytes and panics on a
//! broken property; none may panic inside the product's code whatever the input.

use async_graphql::InputType;
use serde_json::{json, Map, Value};

use sightline::analytics::people::{Cursor, PageSize};
use sightline::analytics::{Filter, MAX_PROPS_FILTER_BYTES};
use sightline::event::{Dialect, Validator};
use sightline::graphql::types::{time_zone, EventFilter, LiveFilter};
use sightline::ingest::{parse_browser_batch, parse_server_batch, validate_events};
use sightline::live::LiveMatch;
use sightline::queue::{claimed_jobs, JobData};
use sightline::worker::JobFields;
use tracker_wasm::json as tjson;

/// Tokens spliced into JSON-shaped inputs.
pub const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\\"",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1e999",
    "-1",
    "18446744073709551616",
    "1.5",
    "\"id\"",
    "\"type\"",
    "\"ts\"",
    "\"props\"",
    "\"events\"",
    "\"key\"",
    "\"project_id\"",
    "\"received_at\"",
    "\"ip\"",
    "\"user_agent\"",
    "\"anonymous_id\"",
    "\"session_id\"",
    "\"user_id\"",
    "\"url\"",
    "\"bot\"",
    "\"eventType\"",
    "\"eventTypes\"",
    "\"path\"",
    "\"communityId\"",
    "\"userId\"",
    "\"page.view\"",
    "\"0196f7a0-0000-7000-8000-000000000001\"",
    "\"00000000-0000-0000-0000-000000000000\"",
    "\"::1\"",
    "\"\u{0}\"",
    "\"é\"",
    "\"\u{10ffff}\"",
    "_",
    "1763820000000",
];

/// Tokens spliced into the tracker's field texts.
pub const TEXT_TOKENS: &[&str] = &[
    "\u{1f}",
    "\"",
    "\\",
    "\u{0}",
    "\n",
    "\u{7f}",
    "é",
    "\u{2028}",
    "\u{10ffff}",
    "{",
    "}",
    "\\u0000",
    "https://x/?a=\"b\"",
];

fn validator() -> Validator {
    Validator {
        now_ms: 1_763_820_000_000,
        max_past_ms: 7 * 86_400_000,
        max_future_ms: 3_600_000,
        deny_keys: vec!["password".to_string(), "token".to_string()].into(),
    }
}

/// A valid event re-validates to itself (what the worker does to what ingest accepted).
fn revalidates(v: &Validator, ev: &sightline::event::Event, dialect: Dialect) {
    let again = serde_json::to_value(ev).expect("events serialize");
    let ev2 = v.event(again, dialect).expect("a valid event stays valid");
    assert_eq!(ev, &ev2, "an event changed when validated twice");
}

/// Both ingest batch parsers and the validator, in both dialects.
pub fn ingest_batch(data: &[u8]) {
    let v = validator();
    if let Ok((_, events)) = parse_browser_batch(data) {
        let (valid, _) = validate_events(&v, events, Dialect::Browser);
        for (_, ev) in valid {
            revalidates(&v, &ev, Dialect::Browser);
        }
    }
    if let Ok(events) = parse_server_batch(data) {
        let (valid, _) = validate_events(&v, events, Dialect::Server);
        for (_, ev) in valid {
            revalidates(&v, &ev, Dialect::Server);
        }
    }
}

pub fn ingest_batch_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"key":"pk","events":[{"id":"0196f7a0-0000-7000-8000-000000000001","type":"page.view","ts":1763820000000,"anonymous_id":"a","session_id":"s","url":"https://x.example/p?utm_source=y","props":{"k":[1,{"n":null}]}}]}"#.to_vec(),
        br#"[{"id":"0196f7a0-0000-7000-8000-000000000002","type":"order.paid","ts":"2025-11-22T14:00:00Z","user_id":"u1","props":{"amount":12.5}}]"#.to_vec(),
        br#"{"events":[{"type":"x","user_id":"u"}]}"#.to_vec(),
    ]
}

/// Job data as a BullMQ producer may have written it into the job's hash: any bytes. The claim
/// reply is read without failing its neighbours, contract-shaped data is always readable by
/// the worker, and each event the worker accepts re-validates to itself.
pub fn job_decode(data: &[u8]) {
    use redis::Value as R;
    let flat = [
        R::BulkString(b"7".to_vec()),
        R::BulkString(data.to_vec()),
        R::BulkString(b"2".to_vec()),
        R::BulkString(b"{}".to_vec()),
        R::BulkString(b"8".to_vec()),
        R::BulkString(b"{}".to_vec()),
        R::Int(1),
        R::BulkString(b"{}".to_vec()),
    ];
    let jobs = claimed_jobs(&flat);
    assert_eq!(jobs.len(), 2, "one job's bytes must not hide its neighbour");
    assert_eq!((jobs[0].attempts_made, jobs[1].attempts_made), (2, 1));
    let text = std::str::from_utf8(data).unwrap_or("");
    assert_eq!(
        jobs[0].data, text,
        "UTF-8 data arrives unchanged, the rest empty"
    );
    let contract = serde_json::from_str::<JobData<Value>>(&jobs[0].data);
    let fields = JobFields::parse(&jobs[0].data);
    if contract.is_ok() {
        assert!(
            fields.is_ok(),
            "data in the contract's shape must be readable by the worker: {:?}",
            fields.err()
        );
    }
    let Ok(fields) = fields else { return };
    let v = validator();
    for raw in fields.events {
        let Ok(value) = serde_json::from_str::<Value>(raw.get()) else {
            continue;
        };
        if let Ok(ev) = v.event(value, Dialect::Job) {
            revalidates(&v, &ev, Dialect::Job);
        }
    }
}

pub fn job_decode_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"project_id":"0196f7a0-0000-7000-8000-0000000000aa","received_at":1763820000000,"ip":"203.0.113.9","user_agent":"Mozilla/5.0","events":[{"id":"0196f7a0-0000-7000-8000-000000000001","type":"page.view","ts":1763820000000,"anonymous_id":"a","url":"https://x/","ip":"::1","bot":true,"props":{}}]}"#.to_vec(),
        br#"{"project_id":"0196f7a0-0000-7000-8000-0000000000aa","events":[{"type":"x","user_id":"u"},1,"s",null]}"#.to_vec(),
        br#"{"project_id":"0196f7a0-0000-7000-8000-0000000000aa","received_at":-1,"events":[]}"#.to_vec(),
        b"\xff\xfe{\"project_id\":1}".to_vec(),
    ]
}

/// GraphQL filter and cursor inputs, parsed as the schema parses variables: a filter that is
/// accepted is trimmed and bounded, the stored-events filter and the live filter accept and
/// refuse the same properties, and a cursor that decodes re-encodes to itself.
pub fn graphql_inputs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Cursor::decode(&text) {
        assert_eq!(Cursor::decode(&c.encode()), Ok(c), "cursor {text:?}");
    }
    let _ = time_zone(Some(&text));
    if data.len() >= 8 {
        let n = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        if let Ok(size) = PageSize::new(n) {
            assert!((1..=500).contains(&size.get()), "page size {n}");
        }
    }
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let as_input = |v: Value| async_graphql::Value::from_json(v).ok();
    if let Some(input) = as_input(json.clone()) {
        if let Ok(ef) = <EventFilter as InputType>::parse(Some(input)) {
            if let Ok(f) = Filter::try_from(Some(ef)) {
                for part in [&f.event_type, &f.path, &f.community_id, &f.user_id]
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        !part.is_empty() && part.trim() == part,
                        "filter text {part:?} is trimmed and not blank"
                    );
                }
            }
        }
    }
    // The same `props` through both filters.
    let wrapped = json!({ "props": json });
    let stored = as_input(wrapped.clone())
        .and_then(|i| <EventFilter as InputType>::parse(Some(i)).ok())
        .map(|ef| Filter::try_from(Some(ef)));
    let live = as_input(wrapped)
        .and_then(|i| <LiveFilter as InputType>::parse(Some(i)).ok())
        .map(|lf| LiveMatch::try_from(Some(lf)));
    if let (Some(stored), Some(live)) = (stored, live) {
        assert_eq!(
            stored.as_ref().err(),
            live.as_ref().err(),
            "stored and live filters refuse the same props"
        );
        if let Ok(f) = stored {
            if let Some(p) = f.props {
                let text = serde_json::to_string(&p.into_map()).expect("props serialize");
                assert!(text.len() <= MAX_PROPS_FILTER_BYTES && text != "{}");
            }
        }
    }
}

pub fn graphql_inputs_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"eventType":" page.view ","path":"/pricing","communityId":"","userId":"u","props":{"plan":"pro","n":[1,{"a":null}]}}"#.to_vec(),
        br#"{"plan":"pro"}"#.to_vec(),
        b"1763820000123456_0196f7a0000070008000000000000001".to_vec(),
        b"-62135596800000000_00000000-0000-0000-0000-000000000000".to_vec(),
        b"Europe/Berlin".to_vec(),
    ]
}

/// Splits the input into text fields for the tracker's writer, at 0xFF (a byte that is never
/// part of UTF-8 text, so every character, control characters included, can be in a field).
fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// The tracker's hand-written JSON writer against serde_json: what it writes parses, and parses
/// back to exactly the fields it was given (strings escaped, empty ones left out, integers).
pub fn tracker_json(data: &[u8]) {
    let f = fields(data);
    let at = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
    // Strings alone.
    for s in &f {
        let mut out = String::new();
        tjson::push_str(&mut out, s);
        assert_eq!(
            serde_json::from_str::<String>(&out).ok().as_deref(),
            Some(s.as_str()),
            "push_str wrote {out:?}"
        );
    }
    // Integers, and the reader of the tracker's own integers.
    let raw = {
        let mut b = [0u8; 8];
        for (i, x) in data.iter().take(8).enumerate() {
            b[i] = *x;
        }
        i64::from_le_bytes(b)
    };
    let mut digits = String::new();
    tjson::push_int(&mut digits, raw);
    assert_eq!(digits, raw.max(0).to_string());
    if digits.len() <= 18 {
        assert_eq!(tjson::parse_int(&digits), Some(raw.max(0)));
    }
    // Props as the loader's JSON.stringify writes them: an object of the input's fields.
    let props: Map<String, Value> = f
        .chunks(2)
        .map(|kv| {
            (
                kv[0].clone(),
                Value::String(kv.get(1).cloned().unwrap_or_default()),
            )
        })
        .collect();
    let props_json = if data.first() == Some(&b'!') {
        at(0).to_string() // any text: used only when it is framed as an object
    } else {
        Value::Object(props.clone()).to_string()
    };
    let ts = f64::from_bits(raw as u64);
    let fields = tjson::EventFields {
        id: at(0),
        event_type: at(1),
        ts,
        anonymous_id: at(2),
        session_id: at(3),
        user_id: at(4),
        community_id: at(5),
        entity_type: at(6),
        entity_id: at(7),
        url: at(8),
        referrer: at(9),
        title: at(10),
        screen_width: data.len().is_multiple_of(3).then_some(raw as u32),
        language: at(11),
        webdriver: data.len().is_multiple_of(2),
        props_json: &props_json,
    };
    if data.first() == Some(&b'!') && tjson::is_object_text(&props_json) {
        // Not the loader's output: only the framing is checked, the writer trusts the rest.
        return;
    }
    let text = tjson::event(&fields);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["id"], at(0));
    assert_eq!(v["type"], at(1));
    assert_eq!(v["ts"], json!((ts as i64).max(0)));
    for (k, i) in [
        ("anonymous_id", 2),
        ("session_id", 3),
        ("user_id", 4),
        ("community_id", 5),
        ("entity_type", 6),
        ("entity_id", 7),
        ("url", 8),
        ("referrer", 9),
        ("title", 10),
        ("language", 11),
    ] {
        let expect = if at(i).is_empty() {
            Value::Null
        } else {
            json!(at(i))
        };
        assert_eq!(v[k], expect, "field {k}");
    }
    assert_eq!(v["screen_width"], json!(fields.screen_width));
    assert_eq!(
        v["webdriver"],
        if fields.webdriver {
            json!(true)
        } else {
            Value::Null
        }
    );
    let expect_props = if data.first() == Some(&b'!') {
        json!({})
    } else {
        Value::Object(props.clone())
    };
    assert_eq!(v["props"], expect_props);
    // A click's props: the loader's object continued by the writer.
    let href = at(3);
    let mut o = tjson::Obj::extend(&props_json);
    o.opt("href", href);
    let clicked: Value = serde_json::from_str(&o.finish()).expect("extended object parses");
    let mut expect = match expect_props {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if !href.is_empty() {
        expect.insert("href".into(), json!(href));
    }
    assert_eq!(clicked, Value::Object(expect));
    // The batch body around it.
    let body = tjson::batch(at(1), &[text.clone(), text]);
    let b: Value = serde_json::from_str(&body).expect("batch parses");
    assert_eq!(b["key"], at(1));
    assert_eq!(b["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(b["events"][0], v);
}

pub fn tracker_json_seeds() -> Vec<Vec<u8>> {
    vec![
        b"0196f7a0-0000-7000-8000-000000000001\xffpage.view\xffa\xffs\xffu\xff\xffbutton\xffcta\xffhttps://x/?q=\"1\"\xff\xffT\\itle\n\xffen-US".to_vec(),
        b"!{\"tag\":\"a\",\"text\":\"\\u0001\"}\xffx".to_vec(),
        ["é\u{1}\u{1f}\u{7f}".as_bytes(), b"\xff", "\u{10ffff}\n\u{0}".as_bytes()].concat(),
    ]
}
