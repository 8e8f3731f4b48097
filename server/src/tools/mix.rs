//! A realistic audience for the synthetic tools (`generate`, `loadgen`, `bench-enrich`): 200
//! user agents (browsers and versions on desktops, phones and tablets, 3% bots), client
//! addresses across 14 countries, referrers (search, social, mail, other sites, none) and
//! campaign tags (newsletters, paid search and social).
//!
//! Everything is a pure function of a key (a visitor, a session), hashed rather than drawn from
//! the caller's random stream: a visitor keeps one device and one country, a session one source,
//! and the tools' other draws (ids, counts, timings) stay exactly as they were without it.
//!
//! The address ranges were checked against the free country database `scripts/lib.sh`
//! installs (`install_geoip`): every sampled address of each range maps to its country there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
pub fn hash(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Picks from `(weight, item)` pairs with a hash.
fn weighted<T: Copy>(h: u64, items: &[(u32, T)]) -> T {
    let total: u64 = items.iter().map(|(w, _)| *w as u64).sum();
    let mut x = h % total.max(1);
    for (w, item) in items {
        if x < *w as u64 {
            return *item;
        }
        x -= *w as u64;
    }
    items[items.len() - 1].1
}

/// A family of user agents: its share of traffic (per mille), and its versions (newest first,
/// newer ones more common) formatted into a template at `{}` (`{m}` for a device model).
struct Family {
    share: u32,
    template: &'static str,
    versions: &'static [&'static str],
    models: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        share: 300,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36",
        versions: &["131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120", "119", "118", "117", "116", "115", "114", "113", "112", "111", "110"],
        models: &[""],
    },
    Family {
        share: 80,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36",
        versions: &["131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120", "119", "118", "117", "116", "115"],
        models: &[""],
    },
    Family {
        share: 20,
        template: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36",
        versions: &["131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120"],
        models: &[""],
    },
    Family {
        share: 200,
        template: "Mozilla/5.0 (Linux; Android 14; {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Mobile Safari/537.36",
        versions: &["131", "130", "129", "128", "127", "126", "125"],
        models: &["K", "SM-S918B", "Pixel 8", "SM-A546B", "moto g(60)"],
    },
    Family {
        share: 10,
        template: "Mozilla/5.0 (Linux; Android 13; SM-X706B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36",
        versions: &["131", "130", "129", "128"],
        models: &[""],
    },
    Family {
        share: 140,
        template: "Mozilla/5.0 (iPhone; CPU iPhone OS {} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        versions: &["18_1", "18_0", "17_5_1", "17_4", "17_1_2", "16_6", "15_8"],
        models: &[""],
    },
    Family {
        share: 20,
        template: "Mozilla/5.0 (iPad; CPU OS {} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        versions: &["18_1", "17_4", "16_6"],
        models: &[""],
    },
    Family {
        share: 50,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{} Safari/605.1.15",
        versions: &["18.1", "18.0", "17.5", "17.4", "17.2", "16.6"],
        models: &[""],
    },
    Family {
        share: 30,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{}.0) Gecko/20100101 Firefox/{}.0",
        versions: &["132", "131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120", "119", "118", "117", "116", "115"],
        models: &[""],
    },
    Family {
        share: 15,
        template: "Mozilla/5.0 (X11; Linux x86_64; rv:{}.0) Gecko/20100101 Firefox/{}.0",
        versions: &["132", "131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120", "119", "118"],
        models: &[""],
    },
    Family {
        share: 10,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{}.0) Gecko/20100101 Firefox/{}.0",
        versions: &["132", "131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120"],
        models: &[""],
    },
    Family {
        share: 50,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36 Edg/{}.0.0.0",
        versions: &["131", "130", "129", "128", "127", "126", "125", "124", "123", "122", "121", "120", "119", "118"],
        models: &[""],
    },
    Family {
        share: 20,
        template: "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{}.0 Chrome/125.0.0.0 Mobile Safari/537.36",
        versions: &["26", "25", "24", "23", "22", "21", "20"],
        models: &[""],
    },
    Family {
        share: 10,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 OPR/{}.0.0.0",
        versions: &["114", "112", "110", "108", "106", "104", "102", "100"],
        models: &[""],
    },
    Family {
        share: 15,
        template: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{}.0.6478.54 Mobile/15E148 Safari/604.1",
        versions: &["131", "130", "129", "128", "127", "126", "125"],
        models: &[""],
    },
    // Bots: 3% of visitors.
    Family {
        share: 30,
        template: "{}",
        versions: &[
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "curl/8.4.0",
            "python-requests/2.31.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
        ],
        models: &[""],
    },
];

/// Every user agent of the mix with its weight, built once.
static USER_AGENTS: LazyLock<Vec<(u32, &'static str)>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for f in FAMILIES {
        for (vi, v) in f.versions.iter().enumerate() {
            // Newer versions more common: weight falls with the version's age.
            let version_weight = (f.versions.len() - vi) as u32;
            let per_family: u32 = (1..=f.versions.len() as u32).sum();
            for m in f.models {
                let ua = f.template.replace("{m}", m).replace("{}", v);
                let w =
                    (f.share * 1000 * version_weight / per_family / f.models.len() as u32).max(1);
                out.push((w, &*Box::leak(ua.into_boxed_str())));
            }
        }
    }
    out
});

/// The distinct user agents of the mix.
pub fn user_agents() -> impl Iterator<Item = &'static str> {
    USER_AGENTS.iter().map(|(_, ua)| *ua)
}

/// The user agent of a visitor (one device per visitor).
pub fn user_agent(visitor: u64) -> &'static str {
    weighted(hash(visitor ^ 0x5541), &USER_AGENTS)
}

/// An IPv4 range: first address, size, country.
type Range = ([u8; 4], u32, &'static str);

/// Each range with its share of visitors; see the module doc.
const V4_RANGES: &[(u32, Range)] = &[
    (15, ([73, 0, 0, 0], 1 << 20, "US")),
    (15, ([24, 0, 0, 0], 1 << 19, "US")),
    (9, ([217, 0, 0, 0], 1 << 19, "DE")),
    (8, ([86, 128, 0, 0], 1 << 22, "GB")),
    (4, ([80, 8, 0, 0], 1 << 19, "FR")),
    (3, ([90, 0, 0, 0], 1 << 20, "FR")),
    (8, ([117, 192, 0, 0], 1 << 22, "IN")),
    (3, ([133, 0, 0, 0], 1 << 20, "JP")),
    (3, ([210, 128, 0, 0], 1 << 21, "JP")),
    (5, ([24, 64, 0, 0], 1 << 19, "CA")),
    (4, ([84, 24, 0, 0], 1 << 19, "NL")),
    (4, ([88, 0, 0, 0], 1 << 21, "ES")),
    (4, ([79, 0, 0, 0], 1 << 21, "IT")),
    (3, ([83, 0, 0, 0], 1 << 21, "PL")),
    (3, ([1, 120, 0, 0], 1 << 19, "AU")),
    (2, ([41, 0, 0, 0], 1 << 20, "ZA")),
    (2, ([112, 0, 0, 0], 1 << 20, "CN")),
];

/// The client address of a visitor (one country per visitor); one in fifty of the German
/// visitors comes over IPv6 (Deutsche Telekom's 2003::/19).
pub fn ip(visitor: u64) -> IpAddr {
    let h = hash(visitor ^ 0x1b);
    let (base, size, country) = weighted(h, V4_RANGES);
    let offset = (hash(h) % size as u64) as u32;
    if country == "DE" && h % 50 == 0 {
        let low = hash(h ^ 6) as u128 & ((1u128 << 109) - 1);
        return IpAddr::V6(Ipv6Addr::from((0x2003u128 << 112) | low));
    }
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::from(base)) + offset))
}

/// Where a session came from: its referrer (`None`: typed in or bookmarked) and the query
/// string its landing page carries (empty, or `?utm_...` / `?gclid=...`; ASCII, nothing to
/// escape in JSON).
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub referrer: Option<&'static str>,
    pub query: &'static str,
}

const ARRIVALS: &[(u32, Arrival)] = &[
    (340, arrival(None, "")),
    (150, arrival(Some("https://www.google.com/"), "")),
    (40, arrival(Some("https://www.google.de/"), "")),
    (30, arrival(Some("https://www.google.co.uk/"), "")),
    (
        40,
        arrival(Some("https://www.bing.com/search?q=product+analytics"), ""),
    ),
    (30, arrival(Some("https://duckduckgo.com/"), "")),
    (10, arrival(Some("https://search.brave.com/"), "")),
    (30, arrival(Some("https://t.co/AbCdEf123"), "")),
    (40, arrival(Some("https://l.facebook.com/"), "")),
    (20, arrival(Some("https://www.linkedin.com/"), "")),
    (20, arrival(Some("https://www.reddit.com/r/analytics/"), "")),
    (20, arrival(Some("https://news.ycombinator.com/"), "")),
    (
        20,
        arrival(Some("https://github.com/sightline/sightline"), ""),
    ),
    (
        20,
        arrival(Some("https://dev.to/someone/self-hosted-analytics"), ""),
    ),
    (15, arrival(Some("https://blog.example.net/2024/tools"), "")),
    (10, arrival(Some("https://mail.google.com/"), "")),
    (
        40,
        arrival(
            None,
            "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
        ),
    ),
    (
        20,
        arrival(Some("https://www.google.com/"), "?gclid=Cj0KCQjw"),
    ),
    (
        20,
        arrival(
            None,
            "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=analytics",
        ),
    ),
    (
        15,
        arrival(
            Some("https://l.facebook.com/"),
            "?utm_source=facebook&utm_medium=paid_social&utm_campaign=launch&utm_content=video",
        ),
    ),
    (
        10,
        arrival(
            Some("https://t.co/XyZ"),
            "?utm_source=twitter&utm_medium=social&utm_campaign=launch",
        ),
    ),
    (15, arrival(None, "?ref=producthunt")),
    (
        10,
        arrival(
            None,
            "?utm_source=partner&utm_medium=referral&utm_campaign=integrations",
        ),
    ),
];

const fn arrival(referrer: Option<&'static str>, query: &'static str) -> Arrival {
    Arrival { referrer, query }
}

/// The arrival of a session.
pub fn arrival_of(session: u64) -> Arrival {
    weighted(hash(session ^ 0xa11), ARRIVALS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline::enrich::{DeviceKind, Enricher};

    #[test]
    fn the_mix_has_two_hundred_user_agents_and_a_few_percent_bots() {
        let uas: std::collections::HashSet<_> = user_agents().collect();
        assert_eq!(uas.len(), 200);
        let enricher = Enricher::new(None).expect("enricher");
        let bots = (0..10_000u64)
            .filter(|v| enricher.device(Some(user_agent(*v))).kind == DeviceKind::Bot)
            .count();
        assert!(
            (150..=450).contains(&bots),
            "{bots} bots in 10,000 visitors"
        );
        // The same visitor, the same device.
        assert_eq!(user_agent(42), user_agent(42));
    }

    /// With the installed country database (`SIGHTLINE_GEOIP_DB`, as scripts/test sets it), every
    /// visitor's address is in the country its range was chosen for.
    #[test]
    fn addresses_are_in_their_countries_in_the_installed_database() {
        let Some(db) = std::env::var_os("SIGHTLINE_GEOIP_DB").filter(|p| !p.is_empty()) else {
            eprintln!("SIGHTLINE_GEOIP_DB not set: skipped");
            return;
        };
        let enricher = Enricher::new(Some(std::path::Path::new(&db))).expect("database");
        let mut countries = std::collections::HashSet::new();
        for v in 0..5_000u64 {
            let ip = ip(v);
            let want = match ip {
                IpAddr::V4(a) => V4_RANGES
                    .iter()
                    .find(|(_, (base, size, _))| {
                        let b = u32::from(Ipv4Addr::from(*base));
                        (b..b + size).contains(&u32::from(a))
                    })
                    .map(|(_, (_, _, country))| *country)
                    .expect("in a range"),
                IpAddr::V6(_) => "DE",
            };
            assert_eq!(enricher.geo(Some(ip)).country, want, "{ip}");
            countries.insert(want);
        }
        assert_eq!(countries.len(), 14);
    }

    #[test]
    fn addresses_fall_in_their_ranges() {
        for v in 0..5_000u64 {
            match ip(v) {
                IpAddr::V4(a) => {
                    let n = u32::from(a);
                    assert!(
                        V4_RANGES.iter().any(|(_, (base, size, _))| {
                            let b = u32::from(Ipv4Addr::from(*base));
                            (b..b + size).contains(&n)
                        }),
                        "{a}"
                    );
                }
                // Deutsche Telekom's 2003::/19.
                IpAddr::V6(a) => {
                    assert!(a.segments()[0] == 0x2003 && a.segments()[1] < 0x2000, "{a}")
                }
            }
        }
    }
}
