//! A goal's definition as an analyst gives it (`createGoal`): a name, the event type that
//! converts, optionally a page path pattern and properties the event must contain. The path
//! pattern is translated here, once, into the anchored regular expression statements match with
//! (PostgreSQL's `~`), so SQL never builds one from user text.

use serde_json::{Map, Value};

/// Longest goal name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest path pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;
/// Largest property object, as compact JSON.
pub const MAX_PROPS_BYTES: usize = 2048;
/// Most goals a project may have (a goal breakdown reads them all).
pub const MAX_GOALS: u64 = 100;

/// Why a goal definition was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoalError {
    #[error("a goal's name is 1 to {MAX_NAME_CHARS} characters, without control characters")]
    Name,
    #[error(
        "eventType must be a dotted lower-case event type (like page.view or signup.completed)"
    )]
    EventType,
    #[error("pathPattern {0:?}: {1}")]
    Pattern(String, &'static str),
    #[error("props must be a JSON object of the properties a converting event carries, e.g. {{\"plan\": \"pro\"}}, of at most {MAX_PROPS_BYTES} bytes")]
    Props,
}

/// A page path pattern: `/` then segments; a segment `*` matches exactly one path segment, a
/// segment `**` any number of them (zero included), `*` inside a segment (`/blog-*`) any
/// characters but `/` (at least one). Everything else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    pattern: String,
    regex: String,
}

impl PathPattern {
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The anchored regular expression (PostgreSQL ARE syntax, also valid for Rust's `regex`).
    pub fn regex(&self) -> &str {
        &self.regex
    }
}

impl TryFrom<&str> for PathPattern {
    type Error = GoalError;

    fn try_from(s: &str) -> Result<Self, GoalError> {
        let s = s.trim();
        let bad = |why| GoalError::Pattern(s.to_string(), why);
        if !s.starts_with('/') {
            return Err(bad(
                "a path pattern starts with / (like /docs/* or /blog/**)",
            ));
        }
        if s.len() > MAX_PATTERN_LEN {
            return Err(bad("a path pattern is at most 1024 bytes"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("a path pattern has no spaces or control characters"));
        }
        if s.contains(['?', '#']) {
            return Err(bad(
                "a path pattern matches the path only, without ? or # (query and fragment)",
            ));
        }
        let mut regex = String::from("^");
        // A pattern `/` is the root page: one empty segment.
        let segments = s[1..].split('/');
        for seg in segments {
            if seg == "**" {
                // Zero or more whole segments: `/a/**` matches `/a` and `/a/b/c`; `/**/b`
                // matches `/b` and `/a/b`.
                regex.push_str("(/[^/]*)*");
                continue;
            }
            if seg.contains("**") {
                return Err(bad(
                    "** stands for whole path segments only (like /docs/**)",
                ));
            }
            regex.push('/');
            for c in seg.chars() {
                match c {
                    '*' => regex.push_str("[^/]+"),
                    // Regex metacharacters are escaped (`\` before one means the character
                    // itself in both PostgreSQL's and Rust's syntax); the rest match themselves.
                    '.' | '^' | '$' | '|' | '?' | '+' | '(' | ')' | '[' | ']' | '{' | '}'
                    | '\\' => {
                        regex.push('\\');
                        regex.push(c);
                    }
                    c => regex.push(c),
                }
            }
        }
        regex.push('$');
        Ok(Self {
            pattern: s.to_string(),
            regex,
        })
    }
}

/// A checked goal definition.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalSpec {
    pub name: String,
    pub event_type: String,
    pub path: Option<PathPattern>,
    /// A non-empty object the converting event's properties must contain (`@>`).
    pub props: Option<Map<String, Value>>,
}

/// `createGoal`'s arguments.
pub struct GoalInput {
    pub name: String,
    pub event_type: String,
    pub path_pattern: Option<String>,
    pub props: Option<Value>,
}

impl TryFrom<GoalInput> for GoalSpec {
    type Error = GoalError;

    fn try_from(g: GoalInput) -> Result<Self, GoalError> {
        let name = g.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(GoalError::Name);
        }
        let event_type = g.event_type.trim();
        if !crate::event::is_valid_type(event_type) {
            return Err(GoalError::EventType);
        }
        let path = g
            .path_pattern
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathPattern::try_from)
            .transpose()?;
        let props = match g.props {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let bytes = serde_json::to_vec(&m).map_or(usize::MAX, |t| t.len());
                if bytes > MAX_PROPS_BYTES {
                    return Err(GoalError::Props);
                }
                (!m.is_empty()).then_some(m)
            }
            Some(_) => return Err(GoalError::Props),
        };
        Ok(Self {
            name: name.to_string(),
            event_type: event_type.to_string(),
            path,
            props,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn regex(p: &str) -> String {
        PathPattern::try_from(p).expect("valid").regex().to_string()
    }

    /// Whether a pattern matches a path, with the regex as PostgreSQL would run it (Rust's
    /// `regex` reads these expressions the same way).
    fn matches(p: &str, path: &str) -> bool {
        regex::Regex::new(&regex(p))
            .expect("a regex")
            .is_match(path)
    }

    #[test]
    fn patterns_become_anchored_regexes() {
        assert_eq!(regex("/"), "^/$");
        assert_eq!(regex("/docs/*"), "^/docs/[^/]+$");
        assert_eq!(regex("/docs/**"), "^/docs(/[^/]*)*$");
        assert_eq!(regex("/a.b/x-y_z"), "^/a\\.b/x-y_z$");
        assert_eq!(regex(" /pricing "), "^/pricing$");
    }

    #[test]
    fn one_star_is_one_segment_two_stars_any_depth() {
        for (p, path, m) in [
            ("/docs/*", "/docs/a", true),
            ("/docs/*", "/docs/a/b", false),
            ("/docs/*", "/docs", false),
            ("/docs/*", "/docs/", false),
            ("/docs/**", "/docs", true),
            ("/docs/**", "/docs/a", true),
            ("/docs/**", "/docs/a/b/c", true),
            ("/docs/**", "/docsx", false),
            ("/**/edit", "/edit", true),
            ("/**/edit", "/a/b/edit", true),
            ("/**/edit", "/a/b/edit/x", false),
            ("/*/settings", "/acme/settings", true),
            ("/*/settings", "/settings", false),
            ("/blog-*", "/blog-2026", true),
            ("/blog-*", "/blog-", false),
            ("/a.b", "/axb", false),
            ("/a.b", "/a.b", true),
            ("/(x)+", "/(x)+", true),
            ("/", "/", true),
            ("/", "/a", false),
        ] {
            assert_eq!(matches(p, path), m, "{p} ~ {path}");
        }
    }

    #[test]
    fn bad_patterns_and_definitions_are_refused() {
        for (p, why) in [
            ("docs/*", "starts with /"),
            ("/docs/**x", "whole path segments"),
            ("/a/***", "whole path segments"),
            ("/a b", "no spaces"),
            ("/a?b=1", "without ?"),
        ] {
            let e = PathPattern::try_from(p).expect_err(p);
            assert!(e.to_string().contains(why), "{p}: {e}");
        }
        let input = |name: &str, t: &str, props| GoalInput {
            name: name.into(),
            event_type: t.into(),
            path_pattern: Some("".into()),
            props,
        };
        assert_eq!(
            GoalSpec::try_from(input(" ", "page.view", None)),
            Err(GoalError::Name)
        );
        assert_eq!(
            GoalSpec::try_from(input("x", "Page View", None)),
            Err(GoalError::EventType)
        );
        assert_eq!(
            GoalSpec::try_from(input("x", "page.view", Some(json!([1])))),
            Err(GoalError::Props)
        );
        let g =
            GoalSpec::try_from(input(" Signup ", "signup.done", Some(json!({})))).expect("valid");
        assert_eq!((g.name.as_str(), g.path, g.props), ("Signup", None, None));
    }
}
