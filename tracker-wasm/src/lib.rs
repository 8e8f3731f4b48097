//! Sightline's browser tracker: auto-captures page views (including single-page-app
//! navigation), clicks and scroll depth, batches events and delivers them to `/collect` with
//! `navigator.sendBeacon` (a `text/plain` body, so no CORS preflight), falling back to
//! `fetch(keepalive)` and to a bounded retry queue in localStorage when offline or failing.
//!
//! Pure logic lives in plain modules tested natively with `cargo test -p tracker-wasm`:
//! [`batch`] (batching, beacon-sized chunks), [`retry`] (the bounded retry queue, backoff),
//! [`ids`] (UUIDs, session expiry), [`selector`] (what a click captures), [`scroll`] (depth
//! math and reporting), [`config`] (data-attribute options, privacy signals), [`url`]
//! (deny-listed parameters, UTM), [`json`] (a hand-written JSON writer), [`text`] (splitting
//! and joining without the generic string searchers). The DOM glue in
//! `browser` (wasm32 only) stays thin: it reads the page, calls these, and sends.
//!
//! Architecture invariant: depends on no server crate; talks to the server only through the
//! ingest contract. Size invariant: no serde, no `format!`/`core::fmt`, no float parsing in
//! code compiled for wasm (each adds kilobytes to what every visitor downloads).

pub mod batch;
pub mod config;
pub mod ids;
pub mod json;
pub mod retry;
pub mod scroll;
pub mod selector;
pub mod text;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod browser;

// std's dlmalloc is ~4 KB of wasm; this is a fraction of that. `LockedAllocator` (a spin lock
// that is never contended on the single wasm thread) because the unlocked variant needs
// `unsafe`, which the workspace forbids.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());
