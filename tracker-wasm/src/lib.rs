//! Sightline's browser tracker: auto-captures page views (including single-page-app
//! navigation), clicks and scroll depth, batches events and delivers them to `/collect` with
//! `navigator.sendBeacon` (a `text/plain` body, so no CORS preflight), falling back to
//! `fetch(keepalive)` and to a bounded retry queue in localStorage when offline or failing.
//! Honours Do Not Track and Global Privacy Control unless the site says otherwise, and can run
//! storing nothing at all (`data-storage="none"`).
//!
//! Pure logic lives in plain modules tested natively with `cargo test -p tracker-wasm`:
//! [`batch`] (batching, beacon-sized chunks), [`retry`] (the bounded retry queue, backoff),
//! [`ids`] (UUIDs, session expiry), [`scroll`] (depth math and reporting), [`config`]
//! (data-attribute options, privacy signals), [`url`] (the URL privacy rule, UTM), [`json`] (a
//! hand-written JSON writer), [`text`] (splitting and joining without the generic string
//! searchers). `browser` (wasm32 only) holds the page's state and calls these; the loader
//! (`js/sightline.js`) is the DOM glue: listeners, the description of a click, and the small
//! helpers `browser` reads the page and storage through.
//!
//! Architecture invariant: depends on no server crate; talks to the server only through the
//! ingest contract. Size invariant: no serde, no `format!`/`core::fmt`, no float parsing, no
//! `char` decoding in code compiled for wasm (each adds to what every visitor downloads; the
//! budget is 12,288 bytes gzipped, enforced by `scripts/build-tracker`).

// `push_str("x")` rather than `push('x')`: `String::push` encodes a `char` as UTF-8, a routine
// of ~250 bytes of wasm that nothing else needs (measured: 24 bytes gzipped).
#![allow(clippy::single_char_add_str)]

pub mod batch;
pub mod config;
pub mod ids;
pub mod json;
pub mod retry;
pub mod scroll;
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
