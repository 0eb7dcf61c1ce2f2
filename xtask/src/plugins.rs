//! Guest plugins: built for wasm32-wasip2 and copied to target/plugins/.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{cargo, languages, root, run};

const TARGET: &str = "wasm32-wasip2";

/// Builds every plugin: the Rust workspace under plugins/, then the greet
/// plugin in its other languages.
pub fn build() -> Result<()> {
    let out = root().join("target/plugins");
    build_rust(&[], &out)?;
    languages::build_all(&root(), &out)
}

/// Builds the Rust plugins PACKAGES (the whole plugins/ workspace when empty)
/// and copies each to OUT/NAME.wasm.
pub fn build_rust(packages: &[&str], out: &Path) -> Result<()> {
    ensure_target()?;
    let target_dir = root().join("plugins/target");
    let mut command = cargo();
    command
        .args(["build", "--manifest-path", "plugins/Cargo.toml"])
        .args(["--target", TARGET, "--release", "--target-dir"])
        .arg(&target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    run(&mut command)?;
    let built = target_dir.join(TARGET).join("release");
    std::fs::create_dir_all(out)?;
    for entry in
        std::fs::read_dir(&built).with_context(|| format!("reading {}", built.display()))?
    {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .context("plugin file name")?
            .replace('_', "-");
        if packages.is_empty() || packages.contains(&name.as_str()) {
            std::fs::copy(&path, out.join(format!("{name}.wasm")))?;
            println!("xtask: {}", out.join(format!("{name}.wasm")).display());
        }
    }
    Ok(())
}

/// Installs the wasm32-wasip2 standard library when rustup lacks it.
fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (is the Rust toolchain installed with rustup?)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", TARGET]))
}
