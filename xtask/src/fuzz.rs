//! `cargo xtask fuzz [SECONDS]`: every cargo-fuzz target under fuzz/, each
//! for a bounded time, starting from the committed seeds and the corpus that
//! earlier runs grew under target/fuzz-corpus/.
//!
//! cargo-fuzz normally wants a nightly compiler for its sanitizers; libFuzzer's
//! coverage alone works on stable, so targets run with `--sanitizer none`.
//! Rust's own checks (bounds, overflow, debug assertions) stay on.

use anyhow::{Context, Result};

use crate::{cargo, root, run};

/// The cargo-fuzz release installed when it is missing.
const CARGO_FUZZ_VERSION: &str = "0.13.1";
/// How long each target runs unless told otherwise.
const DEFAULT_SECONDS: u64 = 60;
/// The targets, each a file in fuzz/fuzz_targets/.
const TARGETS: &[&str] = &["cli_values", "policy", "spec_digest"];

pub fn fuzz(seconds: Option<&str>) -> Result<()> {
    let seconds = match seconds {
        Some(text) => text
            .parse::<u64>()
            .with_context(|| format!("`{text}` is not a number of seconds"))?,
        None => DEFAULT_SECONDS,
    };
    ensure_cargo_fuzz()?;
    // cli_values calls a real plugin.
    crate::plugins::build()?;
    for target in TARGETS {
        let corpus = root().join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        // Hand-written seeds, where a target's input is text.
        let seeds = root().join("fuzz/seeds").join(target);
        println!("xtask: fuzzing {target} for {seconds}s");
        run(cargo()
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(&corpus)
            .args(seeds.exists().then_some(&seeds))
            .arg("--")
            .arg(format!("-max_total_time={seconds}")))
        .with_context(|| {
            format!("fuzz target {target} failed; the input is under fuzz/artifacts/{target}/")
        })?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        return Ok(());
    }
    run(cargo().args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}
