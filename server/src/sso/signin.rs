//! Which account a provider identity signs in to: the one linked to it (issuer, subject); else
//! the account with its email, when the provider vouches for the email (`email_verified`) and
//! the account is linked to no other identity, which links it; else a new account when
//! `SIGHTLINE_OIDC_CREATE_ACCOUNTS` allows. The role and projects come from the claims at every
//! sign-in: the provider is where access is managed.

use crate::auth::oidc::claims::ClaimError;
use crate::auth::oidc::Identity;
use crate::domain::{AccountScope, Email};
use crate::storage::{accounts, Db, StorageError};

/// Why a verified identity is not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The claims grant no role or project.
    Claims(ClaimError),
    /// No account, and first sign-ins do not create one.
    NoAccount,
    /// No account, and the provider sent no usable email to create it with.
    NoEmail,
    /// An account has this email, but the provider does not vouch for it.
    EmailUnverified,
    /// The account with this email is linked to another identity.
    LinkedElsewhere,
    Disabled,
}

impl Refusal {
    /// The audit log's and the metric's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Claims(_) => "claims",
            Refusal::NoAccount => "no_account",
            Refusal::NoEmail => "no_email",
            Refusal::EmailUnverified => "email_unverified",
            Refusal::LinkedElsewhere => "linked_elsewhere",
            Refusal::Disabled => "disabled",
        }
    }

    /// What the person signing in reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::Claims(e) => e.to_string(),
            Refusal::NoAccount => "You have no Sightline account, and single sign-on does not \
                                   create accounts here: ask your administrator for one."
                .into(),
            Refusal::NoEmail => "The identity provider sent no email address, which a new \
                                 Sightline account needs."
                .into(),
            Refusal::EmailUnverified => "A Sightline account has your email address, but the \
                                         identity provider does not say it verified that \
                                         address, so the account cannot be linked: ask your \
                                         administrator."
                .into(),
            Refusal::LinkedElsewhere => "The Sightline account with your email address is \
                                         linked to another identity."
                .into(),
            Refusal::Disabled => "This account is disabled.".into(),
        }
    }
}

/// The account `identity` signs in to with `scope` (already synchronized with it), or why not.
pub async fn account_for(
    db: &Db,
    identity: &Identity,
    scope: &AccountScope,
    create: bool,
) -> Result<Result<entity::account::Model, Refusal>, StorageError> {
    let account = match find_or_link(db, identity).await? {
        Ok(Some(account)) => account,
        Ok(None) if !create => return Ok(Err(Refusal::NoAccount)),
        Ok(None) => {
            let Some(email) = identity
                .email
                .as_deref()
                .and_then(|e| Email::try_from(e).ok())
            else {
                return Ok(Err(Refusal::NoEmail));
            };
            match accounts::create_oidc(db, &email, scope, &identity.issuer, &identity.subject)
                .await
            {
                Ok(account) => account,
                // Another sign-in of the same person created it first.
                Err(e) => match accounts::by_oidc(db, &identity.issuer, &identity.subject).await? {
                    Some(account) => account,
                    None => return Err(e),
                },
            }
        }
        Err(refusal) => return Ok(Err(refusal)),
    };
    if account.disabled_at.is_some() {
        return Ok(Err(Refusal::Disabled));
    }
    let same =
        account.role == scope.role().as_str() && account.project_ids.as_deref() == scope.projects();
    if same {
        return Ok(Ok(account));
    }
    // A new role or projects: the account's older tokens go (as with `setAccountRole`).
    Ok(
        match accounts::change(db, account.id, accounts::Change::Scope(scope)).await? {
            Some(changed) => Ok(changed),
            None => Err(Refusal::NoAccount),
        },
    )
}

/// The account linked to the identity, or the one its verified email links.
async fn find_or_link(
    db: &Db,
    identity: &Identity,
) -> Result<Result<Option<entity::account::Model>, Refusal>, StorageError> {
    if let Some(account) = accounts::by_oidc(db, &identity.issuer, &identity.subject).await? {
        return Ok(Ok(Some(account)));
    }
    let Some(email) = identity.email.as_deref() else {
        return Ok(Ok(None));
    };
    let Some(account) = accounts::by_email(db, email).await? else {
        return Ok(Ok(None));
    };
    if account.oidc_subject.is_some() {
        return Ok(Err(Refusal::LinkedElsewhere));
    }
    // Refused before linking: a disabled account gains no new way in.
    if account.disabled_at.is_some() {
        return Ok(Err(Refusal::Disabled));
    }
    if !identity.email_verified {
        return Ok(Err(Refusal::EmailUnverified));
    }
    Ok(
        match accounts::link_oidc(db, account.id, &identity.issuer, &identity.subject).await? {
            Some(linked) => Ok(Some(linked)),
            // Linked by a concurrent sign-in: to this identity, or to another.
            None => match accounts::by_oidc(db, &identity.issuer, &identity.subject).await? {
                Some(linked) => Ok(Some(linked)),
                None => Err(Refusal::LinkedElsewhere),
            },
        },
    )
}
