//! Feeds arbitrary bytes to the ingest batch parsers and the event validator, in both dialects.
//! The property: no input panics, and whatever validates re-validates to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline::event::{Dialect, Validator};
use sightline::ingest::{parse_browser_batch, parse_server_batch, validate_events};

fuzz_target!(|data: &[u8]| {
    let validator = Validator {
        now_ms: 1_763_820_000_000,
        max_past_ms: 7 * 86_400_000,
        max_future_ms: 3_600_000,
        deny_keys: vec!["password".to_string(), "token".to_string()].into(),
    };
    if let Ok((_, events)) = parse_browser_batch(data) {
        let (valid, _) = validate_events(&validator, events, Dialect::Browser);
        for (_, ev) in valid {
            let again = serde_json::to_value(&ev).expect("events serialize");
            let ev2 = validator.event(again, Dialect::Browser).expect("a valid event stays valid");
            assert_eq!(ev, ev2);
        }
    }
    if let Ok(events) = parse_server_batch(data) {
        let _ = validate_events(&validator, events, Dialect::Server);
    }
});
