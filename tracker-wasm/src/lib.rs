//! Sightline's browser tracker: builds contract events and sends them to `/collect` with
//! `navigator.sendBeacon` (a `text/plain` body, so no CORS preflight).
//!
//! Pure logic lives in plain modules ([`ids`], [`json`], [`url`]) tested natively with
//! `cargo test -p tracker-wasm`; the DOM glue in [`browser`] stays thin.
//!
//! Architecture invariant: depends on no server crate; talks to the server only through the
//! ingest contract.

pub mod ids;
pub mod json;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod browser;
