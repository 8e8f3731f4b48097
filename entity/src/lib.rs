//! SeaORM entities: one module per table of the public database schema.
//!
//! Architecture invariant: this crate depends on SeaORM and serde only: no axum, GraphQL or
//! Redis. The GraphQL layer converts these models into its own types, so a column change here
//! cannot silently change the public API.

pub mod account;
pub mod activity;
pub mod community;
pub mod goal;
pub mod project;
pub mod user;

pub mod prelude {
    pub use super::account::Entity as Account;
    pub use super::activity::Entity as Activity;
    pub use super::community::Entity as Community;
    pub use super::goal::Entity as Goal;
    pub use super::project::Entity as Project;
    pub use super::user::Entity as User;
}
