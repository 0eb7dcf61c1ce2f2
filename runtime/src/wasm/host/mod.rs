//! The host side of `berth:core`: one module per WIT interface.
//!
//! A host method looks up its resources in the table, checks the policy, and
//! calls into `spec` or `pipeline`. Guest-visible failures are returned as
//! `types.error` values; the outer `wasmtime::Result` is kept for traps
//! (a bad handle, an exceeded limit).

mod containers;
mod errors;
#[allow(clippy::module_inception)] // named after the WIT interface `host`, as its siblings are
mod host;
mod services;

use wasmtime::component::{HasSelf, Linker};

pub(crate) use host::host_service;

use super::bindings::berth::core;
use super::state::CallState;

/// Adds WASI (with nothing granted) and `berth:core` to `linker`.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    core::types::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    core::containers::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    core::host::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}
