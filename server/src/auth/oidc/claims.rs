//! What an identity provider's claims grant: the role and projects of the account, read from
//! the claims `SIGHTLINE_OIDC_ROLE_CLAIM` and `SIGHTLINE_OIDC_PROJECTS_CLAIM` name. Pure
//! functions of the claims, so every rule is tested without a provider.
//!
//! - The role claim is a string (`admin`, `analyst`, `viewer`, any case) or a list of strings
//!   (a `groups`-like claim): the highest role in it counts and other entries are ignored.
//!   No role: refused. `service` is never granted through sign-in.
//! - The projects claim is a list of project ids, or one string of ids separated by spaces or
//!   commas. `*` means every project and is for admins only (as in tokens). No project:
//!   refused, for admins too (an admin of every project says `*`): a claim that went missing
//!   must not widen anything.
//! - A claim name with dots (`realm_access.roles`) reaches into nested objects when no
//!   top-level claim has that name.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::AccountScope;

/// Why the claims grant nothing. Shown to the person signing in (they name claims, not
/// secrets) and recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("the identity provider sent no Sightline role (claim {0:?}): ask your administrator for access")]
    NoRole(String),
    #[error(
        "claim {claim:?} holds {value:?}, which is not a Sightline role (admin, analyst or viewer)"
    )]
    UnknownRole { claim: String, value: String },
    #[error("the identity provider sent no Sightline project (claim {0:?}): ask your administrator for access")]
    NoProjects(String),
    #[error("claim {claim:?} holds {value:?}, which is not a project id")]
    BadProject { claim: String, value: String },
    #[error("claim {0:?} grants every project (*), which only admins may have")]
    AllProjectsNotAdmin(String),
}

/// The role and projects the claims grant.
pub fn scope(
    claims: &Map<String, Value>,
    role_claim: &str,
    projects_claim: &str,
) -> Result<AccountScope, ClaimError> {
    let role = role(claims, role_claim)?;
    let projects = projects(claims, projects_claim)?;
    let projects = match projects {
        Projects::All if role == Role::Admin => None,
        Projects::All => return Err(ClaimError::AllProjectsNotAdmin(projects_claim.into())),
        Projects::Some(ids) => Some(ids),
    };
    AccountScope::new(role, projects).map_err(|_| ClaimError::NoProjects(projects_claim.into()))
}

/// The claim `name`: a top-level claim of that name, else the path its dots spell.
pub fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut at = claims.get(parts.next()?)?;
    for part in parts {
        at = at.as_object()?.get(part)?;
    }
    Some(at)
}

fn role(claims: &Map<String, Value>, name: &str) -> Result<Role, ClaimError> {
    let parse = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "admin" => Some(Role::Admin),
        "analyst" => Some(Role::Analyst),
        "viewer" => Some(Role::Viewer),
        _ => None,
    };
    match lookup(claims, name) {
        None | Some(Value::Null) => Err(ClaimError::NoRole(name.into())),
        Some(Value::String(s)) => parse(s).ok_or_else(|| ClaimError::UnknownRole {
            claim: name.into(),
            value: s.clone(),
        }),
        // A list of groups: other groups than roles are expected in it.
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(parse)
            .max()
            .ok_or_else(|| ClaimError::NoRole(name.into())),
        Some(other) => Err(ClaimError::UnknownRole {
            claim: name.into(),
            value: other.to_string(),
        }),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Projects {
    All,
    Some(Vec<Uuid>),
}

fn projects(claims: &Map<String, Value>, name: &str) -> Result<Projects, ClaimError> {
    let bad = |value: &str| ClaimError::BadProject {
        claim: name.into(),
        value: value.into(),
    };
    let items: Vec<&str> = match lookup(claims, name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::trim).ok_or_else(|| bad(&v.to_string())))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(bad(&other.to_string())),
    };
    if items.contains(&"*") {
        return Ok(Projects::All);
    }
    let mut ids = items
        .iter()
        .map(|p| Uuid::parse_str(p).map_err(|_| bad(p)))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(ClaimError::NoProjects(name.into()));
    }
    Ok(Projects::Some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P1: &str = "0192a6b4-4f7e-7c6d-9a1b-2c3d4e5f6a7b";
    const P2: &str = "0192a6b4-4f7e-7c6d-9a1b-2c3d4e5f6a7c";

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    fn grant(v: Value) -> Result<(Role, Option<Vec<String>>), ClaimError> {
        scope(&claims(v), "sightline_role", "sightline_projects").map(|s| {
            (
                s.role(),
                s.projects()
                    .map(|ids| ids.iter().map(Uuid::to_string).collect()),
            )
        })
    }

    #[test]
    fn a_role_and_a_list_of_projects_map_to_a_scope() {
        assert_eq!(
            grant(json!({"sightline_role": "analyst", "sightline_projects": [P2, P1, P2]})),
            Ok((Role::Analyst, Some(vec![P1.into(), P2.into()])))
        );
        assert_eq!(
            grant(json!({"sightline_role": "Viewer", "sightline_projects": format!("{P1}, {P2}")})),
            Ok((Role::Viewer, Some(vec![P1.into(), P2.into()])))
        );
        assert_eq!(
            grant(json!({"sightline_role": "admin", "sightline_projects": "*"})),
            Ok((Role::Admin, None))
        );
        assert_eq!(
            grant(json!({"sightline_role": "admin", "sightline_projects": [P1]})),
            Ok((Role::Admin, Some(vec![P1.into()]))),
            "an admin of some projects"
        );
    }

    #[test]
    fn a_list_of_groups_counts_its_highest_role() {
        assert_eq!(
            grant(
                json!({"sightline_role": ["staff", "viewer", "analyst"], "sightline_projects": [P1]})
            ),
            Ok((Role::Analyst, Some(vec![P1.into()])))
        );
        assert_eq!(
            grant(json!({"sightline_role": ["staff"], "sightline_projects": [P1]})),
            Err(ClaimError::NoRole("sightline_role".into()))
        );
    }

    #[test]
    fn nested_claims_are_reached_by_their_dotted_path() {
        let c = claims(json!({
            "realm_access": {"roles": ["offline_access", "admin"]},
            "sightline": {"projects": "*"},
        }));
        let s = scope(&c, "realm_access.roles", "sightline.projects").expect("granted");
        assert_eq!((s.role(), s.projects()), (Role::Admin, None));
    }

    #[test]
    fn missing_or_wrong_claims_grant_nothing() {
        let cases = [
            (
                json!({"sightline_projects": [P1]}),
                ClaimError::NoRole("sightline_role".into()),
            ),
            (
                json!({"sightline_role": "owner", "sightline_projects": [P1]}),
                ClaimError::UnknownRole {
                    claim: "sightline_role".into(),
                    value: "owner".into(),
                },
            ),
            (
                json!({"sightline_role": "service", "sightline_projects": [P1]}),
                ClaimError::UnknownRole {
                    claim: "sightline_role".into(),
                    value: "service".into(),
                },
            ),
            (
                json!({"sightline_role": 3, "sightline_projects": [P1]}),
                ClaimError::UnknownRole {
                    claim: "sightline_role".into(),
                    value: "3".into(),
                },
            ),
            (
                json!({"sightline_role": "viewer"}),
                ClaimError::NoProjects("sightline_projects".into()),
            ),
            (
                json!({"sightline_role": "admin", "sightline_projects": []}),
                ClaimError::NoProjects("sightline_projects".into()),
            ),
            (
                json!({"sightline_role": "viewer", "sightline_projects": ["*"]}),
                ClaimError::AllProjectsNotAdmin("sightline_projects".into()),
            ),
            (
                json!({"sightline_role": "viewer", "sightline_projects": [P1, "shop"]}),
                ClaimError::BadProject {
                    claim: "sightline_projects".into(),
                    value: "shop".into(),
                },
            ),
            (
                json!({"sightline_role": "viewer", "sightline_projects": [1]}),
                ClaimError::BadProject {
                    claim: "sightline_projects".into(),
                    value: "1".into(),
                },
            ),
        ];
        for (c, want) in cases {
            assert_eq!(grant(c.clone()), Err(want), "{c}");
        }
    }
}
