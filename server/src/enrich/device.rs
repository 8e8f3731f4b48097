//! Browser, OS and device kind from a user agent, with uap-core's patterns (vendored as
//! `server/data/uap-regexes.json`) run by the `ua-parser` crate, and the screen class of a
//! viewport width.
//!
//! Parsing one user agent runs hundreds of patterns (tens of microseconds); real traffic repeats
//! a few thousand user agents, so results are cached by the user agent string and the amortised
//! cost per event stays well under a microsecond (`sightline bench-enrich` measures it).
//!
//! Naming: a browser is named by its product, not its form factor ("Chrome Mobile" and
//! "Chrome Mobile iOS" are "Chrome", "Mobile Safari" is "Safari"), because [`DeviceKind`]
//! already says mobile; "Mac OS X" is "macOS". Everything else keeps uap-core's names.

use std::sync::LazyLock;

use super::{EnrichError, UNKNOWN};

/// User agents longer than this are parsed (and cached) by their first bytes only: real ones
/// are under 300 bytes, and the cost of the patterns grows with the input.
const MAX_UA_BYTES: usize = 512;
/// Distinct user agents kept parsed. A busy site sees a few thousand; each entry is a few
/// hundred bytes.
const CACHE_ENTRIES: usize = 20_000;

/// The parsed form of a user agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub browser: String,
    /// The browser's major version ("120"), or [`UNKNOWN`].
    pub browser_version: String,
    pub os: String,
    /// The OS version as major[.minor] ("10", "17.1"), or [`UNKNOWN`].
    pub os_version: String,
    pub kind: DeviceKind,
}

impl Device {
    /// The device of a missing or unreadable user agent: every name unknown, the kind desktop
    /// (there is no unknown kind; a missing user agent is not a bot's mark by itself, as
    /// server-side senders often have none).
    pub fn unknown() -> Self {
        Self {
            browser: UNKNOWN.to_string(),
            browser_version: UNKNOWN.to_string(),
            os: UNKNOWN.to_string(),
            os_version: UNKNOWN.to_string(),
            kind: DeviceKind::Desktop,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Desktop,
    Mobile,
    Tablet,
    Bot,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Desktop,
        DeviceKind::Mobile,
        DeviceKind::Tablet,
        DeviceKind::Bot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Desktop => "desktop",
            DeviceKind::Mobile => "mobile",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Bot => "bot",
        }
    }
}

/// The screen class of a viewport width in CSS pixels: "mobile" below 576, "tablet" below
/// 992, "laptop" below 1440, else "desktop" (Bootstrap's breakpoints, as the issue settles).
/// `None` without a width.
pub fn screen_class(viewport_width: Option<u32>) -> Option<&'static str> {
    Some(match viewport_width? {
        0..576 => "mobile",
        576..992 => "tablet",
        992..1440 => "laptop",
        _ => "desktop",
    })
}

/// uap-core's compiled patterns, shared by every [`DeviceParser`] of the process: compiling
/// them takes a noticeable fraction of a second.
static PATTERNS: LazyLock<Result<ua_parser::Extractor<'static>, String>> = LazyLock::new(|| {
    let regexes: ua_parser::Regexes<'static> =
        serde_json::from_str(include_str!("../../data/uap-regexes.json"))
            .map_err(|e| e.to_string())?;
    ua_parser::Extractor::try_from(regexes).map_err(|e| e.to_string())
});

pub(super) struct DeviceParser {
    patterns: &'static ua_parser::Extractor<'static>,
    cache: quick_cache::sync::Cache<Box<str>, Device>,
}

impl DeviceParser {
    pub(super) fn new() -> Result<Self, EnrichError> {
        let patterns = PATTERNS
            .as_ref()
            .map_err(|e| EnrichError::UaPatterns(e.clone()))?;
        Ok(Self {
            patterns,
            cache: quick_cache::sync::Cache::new(CACHE_ENTRIES),
        })
    }

    pub(super) fn parse(&self, user_agent: Option<&str>) -> Device {
        let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
            return Device::unknown();
        };
        let ua = truncate(ua, MAX_UA_BYTES);
        if let Some(hit) = self.cache.get(ua) {
            return hit;
        }
        let device = self.parse_uncached(ua);
        self.cache.insert(ua.into(), device.clone());
        device
    }

    fn parse_uncached(&self, ua: &str) -> Device {
        let (browser, os, dev) = self.patterns.extract(ua);
        let (browser, browser_version) = match &browser {
            Some(b) if b.family != "Other" => {
                (browser_name(&b.family).to_string(), version(b.major, None))
            }
            _ => (UNKNOWN.to_string(), UNKNOWN.to_string()),
        };
        let (os, os_version) = match &os {
            Some(o) if o.os != "Other" => (
                os_name(&o.os).to_string(),
                version(o.major.as_deref(), o.minor.as_deref()),
            ),
            _ => (UNKNOWN.to_string(), UNKNOWN.to_string()),
        };
        let device_family = dev.as_ref().map(|d| d.device.as_ref());
        let kind = kind(ua, device_family, &os);
        Device {
            browser,
            browser_version,
            os,
            os_version,
            kind,
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// "major" or "major.minor" when both are numbers; [`UNKNOWN`] without a major.
fn version(major: Option<&str>, minor: Option<&str>) -> String {
    let numeric = |s: &&str| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_digit());
    match (major.filter(numeric), minor.filter(numeric)) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        (Some(major), None) => major.to_string(),
        _ => UNKNOWN.to_string(),
    }
}

/// A browser's product name (see the module doc).
fn browser_name(family: &str) -> &str {
    match family {
        "Chrome Mobile" | "Chrome Mobile iOS" => "Chrome",
        "Chrome Mobile WebView" => "Chrome WebView",
        "Mobile Safari" => "Safari",
        "Mobile Safari UI/WKWebView" => "Safari WebView",
        "Firefox Mobile" | "Firefox iOS" => "Firefox",
        "Edge Mobile" => "Edge",
        "Opera Mobile" => "Opera",
        other => other,
    }
}

fn os_name(family: &str) -> &str {
    match family {
        "Mac OS X" => "macOS",
        other => other,
    }
}

/// Markers of automated clients that uap-core does not file as its "Spider" device: HTTP
/// libraries, headless browsers, link previewers and monitors. Matched case-insensitively as
/// substrings.
const BOT_MARKERS: &[&str] = &[
    "bot/",
    "bot;",
    "bot)",
    "crawler",
    "spider",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python/",
    "aiohttp",
    "httpx",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "undici",
    "postmanruntime",
    "insomnia",
    "facebookexternalhit",
    "embedly",
    "slurp",
    "pingdom",
    "uptimerobot",
    "statuscake",
    "datadog",
    "newrelicpinger",
    "scrapy",
    "httpclient",
];

/// The device kind: bots first (uap-core's "Spider" device family, or a marker above), then
/// tablets (iPads, Kindles, Android without "Mobile", anything calling itself a tablet), then
/// phones ("Mobi" as MDN advises, iPhones, Windows Phone), else desktop.
fn kind(ua: &str, device_family: Option<&str>, os: &str) -> DeviceKind {
    if device_family == Some("Spider") {
        return DeviceKind::Bot;
    }
    let lower = ua.to_ascii_lowercase();
    if BOT_MARKERS.iter().any(|m| lower.contains(m)) {
        return DeviceKind::Bot;
    }
    let family = device_family.unwrap_or_default();
    if family == "iPad"
        || family.starts_with("Kindle")
        || lower.contains("tablet")
        || lower.contains("ipad")
        || lower.contains("kindle")
        || lower.contains("silk/")
        || (os == "Android" && !lower.contains("mobile"))
    {
        return DeviceKind::Tablet;
    }
    if lower.contains("mobi")
        || family == "iPhone"
        || family == "iPod"
        || lower.contains("iphone")
        || lower.contains("windows phone")
        || os == "iOS"
        || os == "Android"
    {
        return DeviceKind::Mobile;
    }
    DeviceKind::Desktop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(ua: &str) -> Device {
        DeviceParser::new().expect("patterns").parse(Some(ua))
    }

    fn check(ua: &str, browser: &str, bv: &str, os: &str, ov: &str, kind: DeviceKind) {
        let d = parse(ua);
        assert_eq!(
            (
                d.browser.as_str(),
                d.browser_version.as_str(),
                d.os.as_str(),
                d.os_version.as_str(),
                d.kind
            ),
            (browser, bv, os, ov, kind),
            "{ua}"
        );
    }

    #[test]
    fn user_agent_truth_table() {
        use DeviceKind::*;
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36",
            "Chrome",
            "120",
            "Windows",
            "10",
            Desktop,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
            "Safari",
            "17",
            "iOS",
            "17.1",
            Mobile,
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
             Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "Safari",
            "16",
            "iOS",
            "16.6",
            Tablet,
        );
        check(
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox",
            "121",
            "Linux",
            UNKNOWN,
            Desktop,
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Firefox",
            "120",
            "Ubuntu",
            UNKNOWN,
            Desktop,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
            "Edge",
            "120",
            "Windows",
            "10",
            Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like \
             Gecko) Version/17.2 Safari/605.1.15",
            "Safari",
            "17",
            "macOS",
            "10.15",
            Desktop,
        );
        check(
            "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like \
             Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            "Samsung Internet",
            "23",
            "Android",
            "13",
            Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 13; SM-X706B) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36",
            "Chrome",
            "120",
            "Android",
            "13",
            Tablet,
        );
        check(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome",
            "120",
            "Android",
            "10",
            Mobile,
        );
        check(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot",
            "2",
            UNKNOWN,
            UNKNOWN,
            Bot,
        );
        check(
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "bingbot",
            "2",
            UNKNOWN,
            UNKNOWN,
            Bot,
        );
        check("curl/8.4.0", "curl", "8", UNKNOWN, UNKNOWN, Bot);
        check(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             HeadlessChrome/120.0.6099.28 Safari/537.36",
            "HeadlessChrome",
            "120",
            "Linux",
            UNKNOWN,
            Bot,
        );
    }

    #[test]
    fn unreadable_user_agents_are_unknown_not_errors() {
        let p = DeviceParser::new().expect("patterns");
        assert_eq!(p.parse(None), Device::unknown());
        assert_eq!(p.parse(Some("   ")), Device::unknown());
        let garbage = p.parse(Some("\u{0}\u{1}zzz ☃ not a browser"));
        assert_eq!(garbage.browser, UNKNOWN);
        assert_eq!(garbage.os, UNKNOWN);
        // A huge user agent is cut, not refused, and the cut lands on a character boundary.
        let huge = format!("{}{}", "é".repeat(400), "Firefox/99.0");
        assert_eq!(p.parse(Some(&huge)).browser, UNKNOWN);
    }

    #[test]
    fn repeated_user_agents_come_from_the_cache() {
        let p = DeviceParser::new().expect("patterns");
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
        let first = p.parse(Some(ua));
        assert_eq!(p.cache.len(), 1);
        assert_eq!(p.parse(Some(ua)), first);
        assert_eq!(p.cache.len(), 1);
    }

    #[test]
    fn screen_classes_follow_the_breakpoints() {
        assert_eq!(screen_class(None), None);
        assert_eq!(screen_class(Some(0)), Some("mobile"));
        assert_eq!(screen_class(Some(575)), Some("mobile"));
        assert_eq!(screen_class(Some(576)), Some("tablet"));
        assert_eq!(screen_class(Some(991)), Some("tablet"));
        assert_eq!(screen_class(Some(992)), Some("laptop"));
        assert_eq!(screen_class(Some(1439)), Some("laptop"));
        assert_eq!(screen_class(Some(1440)), Some("desktop"));
        assert_eq!(screen_class(Some(3840)), Some("desktop"));
    }
}
