//! Single sign-on with an OpenID Connect provider (the `openidconnect` crate does the protocol):
//! the authorization code flow with PKCE, issuer discovery, and the ID token checked against
//! the provider's keys (signature from its JWKS, issuer, audience, expiry, nonce).
//!
//! [`Provider::start`] gives the provider's authorization URL and what the callback needs
//! ([`Pending`]: the PKCE verifier and the nonce; the caller keeps it server-side under the
//! `state`); [`Provider::finish`] exchanges the code and returns who signed in ([`Identity`]).
//! What the identity may do is [`claims`]' business, which account it is is the caller's.
//!
//! Discovery (endpoints and signing keys) is read on first use, not at start, so a provider
//! that is down does not stop the server; it is read again after [`DISCOVERY_TTL`], and at once
//! when an ID token's signature does not verify (the provider rotated its keys).

pub mod claims;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::OidcSettings;

/// How long discovery is trusted before it is read again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// Longest wait for one request to the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Every claim of the ID token (or userinfo) besides the standard ones the crate reads: the
/// role and projects claims are named by configuration, so they are looked up by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
/// The crate's client with [`ExtraClaims`], in each state of its endpoints.
type ClientWith<Auth, DeviceAuth, Introspection, Revocation, Token, UserInfo> = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    Auth,
    DeviceAuth,
    Introspection,
    Revocation,
    Token,
    UserInfo,
>;
/// What discovery configures: authorization endpoint known, token and userinfo endpoints as
/// the provider's metadata says.
type OidcClient = ClientWith<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider's discovery failed: {0}")]
    Discovery(String),
    #[error("the identity provider refused the code: {0}")]
    Exchange(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("the identity provider's userinfo failed: {0}")]
    UserInfo(String),
}

/// What the callback needs of the sign-in it completes. Secret: kept server-side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    pub nonce: String,
}

/// A sign-in started: send the browser to `url`; keep `pending` under `state`.
pub struct Start {
    pub url: url::Url,
    pub state: String,
    pub pending: Pending,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The provider vouches for the email (`email_verified: true`); only then may it link an
    /// existing account.
    pub email_verified: bool,
    /// The other claims (ID token, completed from userinfo when the role claim is not in it).
    pub claims: Map<String, Value>,
}

pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<OidcClient>)>>,
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Result<Self, String> {
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
        RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| format!("redirect: {e}"))?;
        let http = reqwest::Client::builder()
            // The provider's answers are read as they are: following redirects would let a
            // discovery document send requests anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            http,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The client as discovery configured it, read again when older than [`DISCOVERY_TTL`] or
    /// when `fresh`.
    async fn client(&self, fresh: bool) -> Result<Arc<OidcClient>, OidcError> {
        // Held across discovery: concurrent sign-ins wait for one read instead of each reading.
        let mut slot = self.discovered.lock().await;
        if let Some((at, client)) = slot.as_ref() {
            if !fresh && at.elapsed() < DISCOVERY_TTL {
                return Ok(client.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Discovery(chain(&e)))?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let client = Arc::new(
            OidcClient::from_provider_metadata(
                metadata,
                ClientId::new(self.settings.client_id.clone()),
                self.settings
                    .client_secret
                    .as_ref()
                    .map(|s| ClientSecret::new(s.expose().to_string())),
            )
            .set_redirect_uri(redirect),
        );
        *slot = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// A new sign-in: the authorization URL with a fresh state, nonce and PKCE challenge (S256).
    pub async fn start(&self) -> Result<Start, OidcError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Start {
            url,
            state: state.secret().clone(),
            pending: Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
            },
        })
    }

    /// Exchanges the callback's `code` (with the PKCE verifier) and checks the ID token.
    pub async fn finish(&self, code: &str, pending: Pending) -> Result<Identity, OidcError> {
        let client = self.client(false).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(chain(&e)))?;
        let nonce = Nonce::new(pending.nonce);
        let id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or(OidcError::NoIdToken)?;
        let (client, claims) = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => (client.clone(), claims),
            // Signed with a key discovery did not list: the keys may have rotated since.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(true).await?;
                let claims = id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::IdToken(chain(&e)))?;
                (client, claims)
            }
            Err(e) => return Err(OidcError::IdToken(chain(&e))),
        };
        let mut identity = Identity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            claims: claims.additional_claims().other.clone(),
        };
        // Many providers release custom claims at userinfo only (by scope): read it when the
        // role claim is not in the ID token.
        let role_in_token = claims::lookup(&identity.claims, &self.settings.role_claim).is_some();
        if !role_in_token {
            if let Ok(request) = client.user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            ) {
                let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = request
                    .request_async(&self.http)
                    .await
                    .map_err(|e| OidcError::UserInfo(chain(&e)))?;
                for (k, v) in &info.additional_claims().other {
                    identity
                        .claims
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
                if identity.email.is_none() {
                    identity.email = info.email().map(|e| e.to_string());
                    identity.email_verified = info.email_verified().unwrap_or(false);
                }
            }
        }
        Ok(identity)
    }
}

/// An error with its causes, one line (the crate's errors say little at the top level).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::IdTokenClaims;

    /// The configured claims are found beside the standard ones the crate reads itself.
    #[test]
    fn custom_claims_of_an_id_token_are_kept_by_name() {
        let claims: IdTokenClaims<ExtraClaims, CoreGenderClaim> =
            serde_json::from_value(serde_json::json!({
                "iss": "https://id.example.com",
                "sub": "u-1",
                "aud": "sightline",
                "exp": 4_000_000_000u64,
                "iat": 1_700_000_000u64,
                "email": "a@example.com",
                "email_verified": true,
                "sightline_role": "analyst",
                "realm_access": {"roles": ["viewer"]},
            }))
            .expect("ID token claims");
        assert_eq!(claims.subject().as_str(), "u-1");
        assert_eq!(claims.email().map(|e| e.as_str()), Some("a@example.com"));
        let other = &claims.additional_claims().other;
        assert_eq!(
            other.get("sightline_role"),
            Some(&serde_json::json!("analyst"))
        );
        assert_eq!(
            claims::lookup(other, "realm_access.roles"),
            Some(&serde_json::json!(["viewer"]))
        );
    }
}
