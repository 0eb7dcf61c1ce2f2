//! Immutable descriptions of what a function asked for, and their digests.
//!
//! A [`ContainerSpec`] is the pipeline a function built with `with-*` calls. It
//! is a plain value: building one touches no engine. Its [`Digest`] covers the
//! resolved image and every operation, so equal pipelines give equal digests
//! in any process and any difference changes it.

mod container;
mod digest;
mod service;

pub use container::{
    ContainerSpec, ExposedPort, NewFile, Op, Protocol, ResolvedImages, RunConfig, Stage,
    absolute_path,
};
pub use digest::{CanonicalHasher, Digest};
pub use service::{PortForward, Probe, ServiceSpec, service_hostname};
