//! `berth.toml` text: parsing never panics, and every refusal names where it is.

#![no_main]

use std::path::Path;

use berth::policy::{Policy, PolicyError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Policy::parse(text, Path::new("berth.toml")) {
        Ok(policy) => {
            assert!(!policy.limits.timeout.is_zero());
            assert!(!policy.services.health_timeout.is_zero());
            assert!(!policy.engine.timeout.is_zero());
            assert!(policy.limits.memory >= 1 << 20);
        }
        Err(PolicyError::Invalid { key, message, .. }) => {
            assert!(!message.is_empty(), "a refusal of `{key}` says why");
        }
        Err(PolicyError::Parse { message, .. }) => assert!(!message.is_empty()),
        Err(other) => panic!("parsing text cannot fail to read a file: {other}"),
    }
});
