//! `accounts`: people who use the dashboard and the API.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id PHC string; `None` for accounts that sign in only through single sign-on.
    pub password_hash: Option<String>,
    /// admin | analyst | viewer | service
    pub role: String,
    /// Projects the account may use; `None` means all.
    pub project_ids: Option<Vec<Uuid>>,
    pub created_at: DateTimeWithTimeZone,
    /// Copied into the tokens login issues (claim `ver`); raising it revokes them.
    pub token_version: i32,
    /// A disabled account cannot log in and its tokens are refused.
    pub disabled_at: Option<DateTimeWithTimeZone>,
    /// The OpenID Connect issuer and subject (`sub`) single sign-on knows the account by; both
    /// set or both unset.
    pub oidc_issuer: Option<String>,
    pub oidc_subject: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
