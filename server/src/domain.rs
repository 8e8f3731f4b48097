//! Validated values of the tenant records and operator commands: parsed at the edges (GraphQL
//! mutations, the CLI) with `TryFrom`, trusted past them. Storage takes these types, so it never
//! has to refuse what a caller asked for; an [`InvalidInput`] is always the caller's error (a
//! GraphQL `BAD_USER_INPUT`, a CLI message).

use chrono::NaiveDate;
use uuid::Uuid;

use crate::auth::Role;

/// Longest tracked-user id (the bound ingest applies to every id).
const MAX_ID_LEN: usize = crate::event::MAX_ID_LEN;

/// Why an input was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("userId must not be empty (and at most {MAX_ID_LEN} bytes)")]
    UserId,
    #[error("name must be 1 to 200 characters")]
    ProjectName,
    #[error("allowed origin {0:?} must look like https://shop.example or http://localhost:3000")]
    Origin(String),
    #[error("{0:?} is not an email address")]
    Email(String),
    #[error("{field} must be between 1 and 3650")]
    Days { field: &'static str },
    #[error("a {0} account needs at least one project")]
    NoProjects(&'static str),
    #[error("the first day must be before the day after the last one")]
    DayRange,
    #[error(
        "a shared link's label must be at most {} characters, without control characters",
        ShareLabel::MAX_CHARS
    )]
    ShareLabel,
}

/// A tracked user's id as the site sends it (`user_id` of events): trimmed, not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedUserId(String);

impl TrackedUserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for TrackedUserId {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_ID_LEN {
            return Err(InvalidInput::UserId);
        }
        Ok(Self(s.to_string()))
    }
}

/// A project's display name: trimmed, 1 to 200 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ProjectName {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        let s = s.trim();
        if s.is_empty() || s.len() > 200 {
            return Err(InvalidInput::ProjectName);
        }
        Ok(Self(s.to_string()))
    }
}

/// What a shared link is for, as its creator names it: trimmed, 1 to [`ShareLabel::MAX_CHARS`]
/// characters, no control characters (it is shown in lists and the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLabel(String);

impl ShareLabel {
    pub const MAX_CHARS: usize = 100;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `None` for no label or a blank one.
    pub fn optional(s: Option<&str>) -> Result<Option<Self>, InvalidInput> {
        match s.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => Self::try_from(s).map(Some),
        }
    }
}

impl TryFrom<&str> for ShareLabel {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > Self::MAX_CHARS || s.chars().any(char::is_control) {
            return Err(InvalidInput::ShareLabel);
        }
        Ok(Self(s.to_string()))
    }
}

/// An origin allowed to send beacons, as browsers write the `Origin` header
/// (`scheme://host[:port]`, lower case, no path), or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every origin of a list, or the first one refused.
    pub fn parse_all<S: AsRef<str>>(list: &[S]) -> Result<Vec<Origin>, InvalidInput> {
        list.iter().map(|o| Origin::try_from(o.as_ref())).collect()
    }
}

impl TryFrom<&str> for Origin {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        let o = s.trim().trim_end_matches('/').to_ascii_lowercase();
        if o == "*" {
            return Ok(Self(o));
        }
        let host = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"));
        match host {
            Some(h) if !h.is_empty() && !h.contains('/') && o.len() <= 255 => Ok(Self(o)),
            _ => Err(InvalidInput::Origin(s.trim().to_string())),
        }
    }
}

/// An account's email: trimmed, lower case, `local@domain.tld`, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Email {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        let e = s.trim().to_ascii_lowercase();
        let ok = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'));
        if ok {
            Ok(Self(e))
        } else {
            Err(InvalidInput::Email(s.to_string()))
        }
    }
}

/// A retention in days, 1 to 3650 (ten years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(i32);

impl RetentionDays {
    /// `field` names the setting in the error (`retentionDays`, ...).
    pub fn parse(days: i32, field: &'static str) -> Result<Self, InvalidInput> {
        if (1..=3650).contains(&days) {
            Ok(Self(days))
        } else {
            Err(InvalidInput::Days { field })
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// What an account may do: its role and the projects it covers (`None`: all). Every role but
/// admin needs at least one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountScope {
    role: Role,
    projects: Option<Vec<Uuid>>,
}

impl AccountScope {
    pub fn new(role: Role, projects: Option<Vec<Uuid>>) -> Result<Self, InvalidInput> {
        let projects = projects.filter(|p| !p.is_empty());
        if role != Role::Admin && projects.is_none() {
            return Err(InvalidInput::NoProjects(role.as_str()));
        }
        Ok(Self { role, projects })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn projects(&self) -> Option<&[Uuid]> {
        self.projects.as_deref()
    }
}

/// Whole UTC days `[from, to)`, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, InvalidInput> {
        if from < to {
            Ok(Self { from, to })
        } else {
            Err(InvalidInput::DayRange)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_labels_are_trimmed_bounded_and_printable() {
        assert_eq!(ShareLabel::optional(None), Ok(None));
        assert_eq!(ShareLabel::optional(Some("   ")), Ok(None));
        let l = ShareLabel::optional(Some("  weekly report ")).expect("valid");
        assert_eq!(
            l.map(|l| l.as_str().to_string()),
            Some("weekly report".into())
        );
        assert!(ShareLabel::try_from("é".repeat(100).as_str()).is_ok());
        assert!(ShareLabel::try_from("é".repeat(101).as_str()).is_err());
        assert!(ShareLabel::try_from("a\u{0}b").is_err());
        assert!(ShareLabel::try_from("line\nbreak").is_err());
    }

    #[test]
    fn origins_are_normalized_or_refused() {
        let ok = |s: &str| Origin::try_from(s).map(|o| o.as_str().to_string());
        assert_eq!(
            ok(" HTTPS://Shop.Example/ "),
            Ok("https://shop.example".into())
        );
        assert_eq!(
            ok("http://localhost:3000"),
            Ok("http://localhost:3000".into())
        );
        assert_eq!(ok("*"), Ok("*".into()));
        for bad in [
            "shop.example",
            "https://shop.example/path",
            "ftp://x.example",
            "https://",
        ] {
            assert!(matches!(ok(bad), Err(InvalidInput::Origin(_))), "{bad}");
        }
    }

    #[test]
    fn names_emails_ids_days_and_scopes_are_checked() {
        assert_eq!(
            ProjectName::try_from("  Shop ").map(|n| n.0),
            Ok("Shop".into())
        );
        assert_eq!(ProjectName::try_from(" "), Err(InvalidInput::ProjectName));
        assert_eq!(
            ProjectName::try_from("x".repeat(201).as_str()),
            Err(InvalidInput::ProjectName)
        );
        assert_eq!(
            Email::try_from(" A@B.example ").map(|e| e.0),
            Ok("a@b.example".into())
        );
        assert!(Email::try_from("nobody").is_err());
        assert!(Email::try_from("@b.example").is_err());
        assert_eq!(
            TrackedUserId::try_from(" u-1 ").map(|u| u.0),
            Ok("u-1".into())
        );
        assert_eq!(TrackedUserId::try_from("  "), Err(InvalidInput::UserId));
        assert!(RetentionDays::parse(0, "retentionDays").is_err());
        assert_eq!(RetentionDays::parse(3650, "x").map(|d| d.get()), Ok(3650));
        assert!(AccountScope::new(Role::Viewer, Some(vec![])).is_err());
        assert!(AccountScope::new(Role::Admin, None).is_ok());
        let p = Uuid::new_v4();
        let scope = AccountScope::new(Role::Analyst, Some(vec![p])).expect("scoped");
        assert_eq!(scope.projects(), Some(&[p][..]));
        let d = |n| NaiveDate::from_ymd_opt(2026, 12, n).expect("date");
        assert!(DayRange::new(d(2), d(2)).is_err());
        assert!(DayRange::new(d(1), d(2)).is_ok());
    }
}
