//! The site's options, read from the script tag's data attributes, and the privacy decisions
//! they drive (Do Not Track / Global Privacy Control, storage). Pure: the DOM glue passes a
//! function that reads an attribute.
//!
//! Invariant: bad or missing values fall back to the defaults, clamped to safe ranges (a typo
//! in a tag can neither flood the server nor stop delivery); the privacy defaults are the
//! protective ones (signals honoured), and only an explicit `"false"` turns them off.

/// Events per batch before a flush (`data-flush-events`).
pub const DEFAULT_FLUSH_EVENTS: i64 = 20;
/// Longest wait before a queued event is sent (`data-flush-interval`, milliseconds).
pub const DEFAULT_FLUSH_MS: i64 = 5_000;

#[derive(Debug, PartialEq)]
pub struct Options {
    pub flush_events: usize,
    pub flush_ms: i64,
    /// `data-storage="none"` (or its alias `data-cookieless`): nothing is written to the
    /// browser's storage, and events carry no anonymous or session id (the server derives a
    /// visitor from a daily salted hash).
    pub no_storage: bool,
    /// Send nothing when the browser signals DNT or GPC: on unless `data-respect-dnt="false"`.
    pub respect_dnt: bool,
}

/// A boolean attribute: present and not `"false"`/`"0"`/`"no"`.
pub fn flag(v: Option<&str>) -> bool {
    matches!(v, Some(s) if !is_off(s))
}

fn is_off(s: &str) -> bool {
    matches!(s, "false" | "0" | "no")
}

fn num(v: Option<&str>, default: i64, min: i64, max: i64) -> i64 {
    v.and_then(crate::json::parse_int)
        .unwrap_or(default)
        .clamp(min, max)
}

impl Options {
    /// From the script tag's data attributes, `attr(name)` giving an attribute's value:
    /// `data-flush-events`, `data-flush-interval`, `data-storage`, `data-cookieless`,
    /// `data-respect-dnt`.
    pub fn parse(attr: impl Fn(&str) -> Option<String>) -> Self {
        let get = attr;
        Options {
            flush_events: num(
                get("data-flush-events").as_deref(),
                DEFAULT_FLUSH_EVENTS,
                1,
                100,
            ) as usize,
            flush_ms: num(
                get("data-flush-interval").as_deref(),
                DEFAULT_FLUSH_MS,
                100,
                60_000,
            ),
            no_storage: get("data-storage").is_some_and(|s| s.eq_ignore_ascii_case("none"))
                || flag(get("data-cookieless").as_deref()),
            respect_dnt: !get("data-respect-dnt").is_some_and(|s| is_off(&s)),
        }
    }
}

/// Whether the browser's privacy signals forbid tracking on a site that honours them:
/// `navigator.doNotTrack == "1"` or `navigator.globalPrivacyControl == true`.
/// `do_not_track` is "" when the browser has none (null).
pub fn privacy_signal(do_not_track: &str, gpc: bool) -> bool {
    gpc || matches!(do_not_track, "1" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(attrs: &[(&str, &str)]) -> Options {
        Options::parse(|name| {
            attrs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_clamping() {
        assert_eq!(
            parse(&[]),
            Options {
                flush_events: 20,
                flush_ms: 5000,
                no_storage: false,
                respect_dnt: true
            }
        );
        let o = parse(&[
            ("data-flush-events", "0"),
            ("data-flush-interval", "999999"),
        ]);
        assert_eq!((o.flush_events, o.flush_ms), (1, 60_000));
        let o = parse(&[("data-flush-events", "abc"), ("data-flush-interval", "-5")]);
        assert_eq!((o.flush_events, o.flush_ms), (20, 5000));
        let o = parse(&[("data-flush-events", "7"), ("data-flush-interval", "250")]);
        assert_eq!((o.flush_events, o.flush_ms), (7, 250));
    }

    #[test]
    fn storage_none_and_its_cookieless_alias() {
        for attrs in [
            &[("data-storage", "none")][..],
            &[("data-storage", "NONE")],
            &[("data-cookieless", "")],
            &[("data-cookieless", "true")],
            &[("data-storage", "local"), ("data-cookieless", "")],
        ] {
            assert!(parse(attrs).no_storage, "{attrs:?}");
        }
        for attrs in [
            &[][..],
            &[("data-storage", "")],
            &[("data-storage", "local")],
            &[("data-cookieless", "false")],
            &[("data-cookieless", "0")],
        ] {
            assert!(!parse(attrs).no_storage, "{attrs:?}");
        }
    }

    #[test]
    fn privacy_signals_are_honoured_unless_the_site_says_false() {
        for v in ["", "true", "1", "yes", "anything"] {
            assert!(parse(&[("data-respect-dnt", v)]).respect_dnt, "{v:?}");
        }
        assert!(parse(&[]).respect_dnt, "honoured by default");
        for v in ["false", "0", "no"] {
            assert!(!parse(&[("data-respect-dnt", v)]).respect_dnt, "{v:?}");
        }
    }

    #[test]
    fn flags() {
        assert!(flag(Some("")) && flag(Some("true")) && flag(Some("1")));
        assert!(!flag(None) && !flag(Some("false")) && !flag(Some("no")));
    }

    #[test]
    fn privacy_signals() {
        assert!(privacy_signal("1", false));
        assert!(privacy_signal("", true));
        assert!(!privacy_signal("0", false));
        assert!(!privacy_signal("unspecified", false));
        assert!(!privacy_signal("", false));
    }
}
