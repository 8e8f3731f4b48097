//! The site's options, read from the script tag's data attributes, and the privacy decisions
//! they drive (Do Not Track / Global Privacy Control, opt-out). Pure: the DOM glue passes the
//! attribute values in.
//!
//! Invariant: bad or missing values fall back to the defaults, clamped to safe ranges (a typo
//! in a tag can neither flood the server nor stop delivery).

/// Events per batch before a flush (`data-flush-events`).
pub const DEFAULT_FLUSH_EVENTS: i64 = 20;
/// Longest wait before a queued event is sent (`data-flush-interval`, milliseconds).
pub const DEFAULT_FLUSH_MS: i64 = 5_000;

#[derive(Debug, PartialEq)]
pub struct Options {
    pub flush_events: usize,
    pub flush_ms: i64,
    /// `data-cookieless`: ids live in memory only; nothing identifying is stored.
    pub cookieless: bool,
    /// `data-respect-dnt`: send nothing when the browser signals DNT or GPC.
    pub respect_dnt: bool,
}

/// A boolean attribute: present and not `"false"`/`"0"`/`"no"`.
pub fn flag(v: Option<&str>) -> bool {
    matches!(v, Some(s) if !matches!(s, "false" | "0" | "no"))
}

fn num(v: Option<&str>, default: i64, min: i64, max: i64) -> i64 {
    v.and_then(crate::json::parse_int)
        .unwrap_or(default)
        .clamp(min, max)
}

impl Options {
    /// From the values of `data-flush-events`, `data-flush-interval`, `data-cookieless`,
    /// `data-respect-dnt`.
    pub fn parse(
        events: Option<&str>,
        interval: Option<&str>,
        cookieless: Option<&str>,
        dnt: Option<&str>,
    ) -> Self {
        Options {
            flush_events: num(events, DEFAULT_FLUSH_EVENTS, 1, 100) as usize,
            flush_ms: num(interval, DEFAULT_FLUSH_MS, 100, 60_000),
            cookieless: flag(cookieless),
            respect_dnt: flag(dnt),
        }
    }
}

/// Whether the browser's privacy signals forbid tracking on a site that honours them:
/// `navigator.doNotTrack == "1"` or `navigator.globalPrivacyControl == true`.
pub fn privacy_signal(do_not_track: Option<&str>, gpc: bool) -> bool {
    gpc || matches!(do_not_track, Some("1" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_clamping() {
        assert_eq!(
            Options::parse(None, None, None, None),
            Options {
                flush_events: 20,
                flush_ms: 5000,
                cookieless: false,
                respect_dnt: false
            }
        );
        let o = Options::parse(Some("0"), Some("999999"), Some(""), Some("true"));
        assert_eq!(
            (o.flush_events, o.flush_ms, o.cookieless, o.respect_dnt),
            (1, 60_000, true, true)
        );
        let o = Options::parse(Some("abc"), Some("-5"), Some("false"), Some("0"));
        assert_eq!(
            (o.flush_events, o.flush_ms, o.cookieless, o.respect_dnt),
            (20, 5000, false, false)
        );
    }

    #[test]
    fn privacy_signals() {
        assert!(privacy_signal(Some("1"), false));
        assert!(privacy_signal(None, true));
        assert!(!privacy_signal(Some("0"), false));
        assert!(!privacy_signal(Some("unspecified"), false));
    }
}
