//! API tokens: HS256 with a shared secret or RS256 with a key pair, the algorithm pinned by
//! configuration (a token naming another algorithm is refused).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AccountRef, Principal, Role};
use crate::config::{JwtKeys as KeyConfig, JwtSettings};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    /// Project ids, or `["*"]` for all (admins).
    pub projects: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    /// The account a `login` token was issued to, and its token version then: a later version
    /// revokes the token (`super::revocation`). Absent from `sightline token`'s tokens, which no
    /// account backs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid or expired token: {0}")]
    Invalid(String),
    #[error("this server has no private key to issue tokens with")]
    CannotIssue,
}

#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    settings: JwtSettings,
}

impl JwtKeys {
    pub fn from_settings(settings: &JwtSettings) -> Result<Self, String> {
        let (algorithm, decoding, encoding) = match &settings.keys {
            KeyConfig::Hs256(secret) => (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose().as_bytes()),
                Some(EncodingKey::from_secret(secret.expose().as_bytes())),
            ),
            KeyConfig::Rs256 {
                public_pem,
                private_pem,
            } => (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(public_pem).map_err(|e| e.to_string())?,
                match private_pem {
                    Some(p) => Some(
                        EncodingKey::from_rsa_pem(p.expose().as_bytes())
                            .map_err(|e| e.to_string())?,
                    ),
                    None => None,
                },
            ),
        };
        Ok(Self {
            algorithm,
            decoding,
            encoding,
            settings: settings.clone(),
        })
    }

    /// Lifetime of the tokens [`JwtKeys::issue`] gives when none is asked for.
    pub fn token_ttl(&self) -> std::time::Duration {
        self.settings.token_ttl
    }

    /// Issues a token for `subject` with `role` over `projects` (`None`: all), bound to no
    /// account (`sightline token`): only its expiry or a new signing key ends it.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        projects: Option<&[Uuid]>,
        ttl: Option<std::time::Duration>,
    ) -> Result<String, TokenError> {
        self.issue_for(subject, role, projects, ttl, None)
    }

    /// Issues a token bound to `account` (at its current token version) when given: revoked
    /// once the account's version moves on.
    pub fn issue_for(
        &self,
        subject: &str,
        role: Role,
        projects: Option<&[Uuid]>,
        ttl: Option<std::time::Duration>,
        account: Option<AccountRef>,
    ) -> Result<String, TokenError> {
        let key = self.encoding.as_ref().ok_or(TokenError::CannotIssue)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = Claims {
            sub: subject.to_string(),
            role: role.as_str().to_string(),
            projects: match projects {
                None => vec!["*".to_string()],
                Some(ids) => ids.iter().map(Uuid::to_string).collect(),
            },
            iat: now,
            exp: now + ttl.unwrap_or(self.settings.token_ttl).as_secs(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            aid: account.map(|a| a.id),
            ver: account.map(|a| a.version),
        };
        encode(&Header::new(self.algorithm), &claims, key)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let c = data.claims;
        let role: Role = c.role.parse().map_err(TokenError::Invalid)?;
        let projects = if c.projects.iter().any(|p| p == "*") {
            if role != Role::Admin {
                return Err(TokenError::Invalid(
                    "only admin tokens may hold all projects".into(),
                ));
            }
            None
        } else {
            Some(
                c.projects
                    .iter()
                    .map(|p| {
                        Uuid::parse_str(p).map_err(|_| {
                            TokenError::Invalid(format!("project {p:?} is not a UUID"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        Ok(Principal {
            subject: c.sub,
            role,
            projects,
            account: match (c.aid, c.ver) {
                (Some(id), Some(version)) => Some(AccountRef { id, version }),
                (None, None) => None,
                _ => return Err(TokenError::Invalid("aid and ver go together".into())),
            },
            expires_at: i64::try_from(c.exp)
                .ok()
                .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0)),
            shared_link: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::time::Duration;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::from_settings(&JwtSettings {
            keys: KeyConfig::Hs256(Secret::new(secret)),
            issuer: "sightline".into(),
            audience: "sightline".into(),
            token_ttl: Duration::from_secs(60),
        })
        .expect("keys")
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let p = Uuid::new_v4();
        let t = k
            .issue("alice", Role::Analyst, Some(&[p]), None)
            .expect("issue");
        let who = k.verify(&t).expect("verify");
        assert_eq!(who.role, Role::Analyst);
        assert_eq!(who.projects, Some(vec![p]));
    }

    #[test]
    fn wrong_key_expired_and_foreign_algorithm_are_refused() {
        let a = keys("0123456789abcdef0123456789abcdef");
        let b = keys("fedcba9876543210fedcba9876543210");
        let t = a.issue("x", Role::Admin, None, None).expect("issue");
        assert!(b.verify(&t).is_err());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = Claims {
            sub: "x".into(),
            role: "admin".into(),
            projects: vec!["*".into()],
            iat: now - 120,
            exp: now - 60,
            iss: "sightline".into(),
            aud: "sightline".into(),
            aid: None,
            ver: None,
        };
        let expired = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("encode");
        assert!(a.verify(&expired).is_err(), "expired token must be refused");
        let mut wrong_aud = claims.clone();
        wrong_aud.exp = now + 60;
        wrong_aud.aud = "someone-else".into();
        let t = encode(
            &Header::new(Algorithm::HS256),
            &wrong_aud,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("encode");
        assert!(a.verify(&t).is_err(), "foreign audience must be refused");
        // An unsigned ("none") token never verifies.
        let none = format!("{}.{}.", "eyJhbGciOiJub25lIn0", "eyJzdWIiOiJ4In0");
        assert!(a.verify(&none).is_err());
    }

    #[test]
    fn wildcard_projects_are_for_admins_only() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let t = k.issue("v", Role::Viewer, None, None).expect("issue");
        assert!(k.verify(&t).is_err());
    }
}
