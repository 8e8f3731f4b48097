//! Who is calling: JWT verification and issuing (`jwt`), password hashing and its bound
//! (`password`), login throttling (`throttle`), shared links (`share`), and the role/project
//! checks every resolver applies (`Principal`); single sign-on with an OpenID Connect provider
//! (`oidc`).

pub mod jwt;
pub mod oidc;
pub mod password;
pub mod revocation;
pub mod share;
pub mod throttle;

use uuid::Uuid;

pub use jwt::{Claims, JwtKeys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Server-side tracking only.
    Service,
    /// Aggregates only: no raw events, no user-level data.
    Viewer,
    /// Analytics, raw events and live feeds of their projects.
    Analyst,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
            Role::Service => "service",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "viewer" => Ok(Role::Viewer),
            "service" => Ok(Role::Service),
            other => Err(format!(
                "unknown role {other:?}: expected admin, analyst, viewer or service"
            )),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    /// `None`: every project (an admin token with `projects: ["*"]`).
    pub projects: Option<Vec<Uuid>>,
    /// The account the token was issued to, at which token version (`login`'s tokens); `None`
    /// for tokens no account backs (`sightline token`).
    pub account: Option<AccountRef>,
    /// When the token ends (its `exp`).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The shared link the request came with (`share`): such a caller is a viewer of the link's
    /// one project and may only read ([`Principal::require_change`]).
    pub shared_link: Option<Uuid>,
}

/// An account as a token names it: its id and token version when the token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRef {
    pub id: Uuid,
    pub version: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The role may not do this at all.
    Role,
    /// The project is not one of the caller's.
    Project,
    /// The caller may only read (a shared link), and this changes or streams something.
    ReadOnly,
}

impl Principal {
    pub fn can_access_project(&self, project: Uuid) -> bool {
        match &self.projects {
            None => true,
            Some(ids) => ids.contains(&project),
        }
    }

    /// Checks the role is at least `min` (service is outside the analytics ladder) and that
    /// the project is the caller's.
    pub fn require(&self, min: Role, project: Option<Uuid>) -> Result<(), Denied> {
        let role_ok = match min {
            Role::Service => matches!(self.role, Role::Service | Role::Admin),
            _ => self.role != Role::Service && self.role >= min,
        };
        if !role_ok {
            return Err(Denied::Role);
        }
        if let Some(p) = project {
            if !self.can_access_project(p) {
                return Err(Denied::Project);
            }
        }
        Ok(())
    }

    /// Checks the caller may run an operation that is not a plain read (a mutation, a
    /// subscription), before the operation's own [`Principal::require`]: every caller may but a
    /// shared link's. The GraphQL schema applies it to every root field of those operations
    /// (`graphql::read_only`), so no resolver has to remember it.
    pub fn require_change(&self) -> Result<(), Denied> {
        match self.shared_link {
            Some(_) => Err(Denied::ReadOnly),
            None => Ok(()),
        }
    }
}
