//! What every HTTP request and response passes through, whatever the route: the body-size
//! limit ([`body_limit`]) and the security headers ([`headers`]). `app.rs` puts them on the
//! routers; handlers know nothing of them.

pub mod body_limit;
pub mod headers;
