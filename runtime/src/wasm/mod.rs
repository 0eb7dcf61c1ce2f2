//! The wasm side: the engine, compiled-component cache, plugin loading, the
//! host implementation of `berth:core`, and dynamic calls of exports.

pub mod bindings;
mod component_cache;
mod error;
mod guest_output;
mod host;
mod json_args;
mod plugin;
mod runtime;
pub mod signature;
pub mod state;
pub mod values;

pub use component_cache::ComponentCache;
pub use error::Error;
pub use plugin::{CallOutput, Plugin};
pub use runtime::Runtime;
pub use state::HostContext;
pub use values::OutputFormat;
