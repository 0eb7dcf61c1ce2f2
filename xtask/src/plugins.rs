//! Guest plugins: built for wasm32-wasip2 and copied to target/plugins/.

use std::process::Command;

use anyhow::{Context, Result};

use crate::{cargo, root, run};

const TARGET: &str = "wasm32-wasip2";

pub fn build() -> Result<()> {
    ensure_target()?;
    run(cargo().args([
        "build",
        "--manifest-path",
        "plugins/Cargo.toml",
        "--target",
        TARGET,
        "--release",
    ]))?;
    let built = root().join("plugins/target").join(TARGET).join("release");
    let out = root().join("target/plugins");
    std::fs::create_dir_all(&out)?;
    for entry in
        std::fs::read_dir(&built).with_context(|| format!("reading {}", built.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("plugin file name")?
                .replace('_', "-");
            std::fs::copy(&path, out.join(&name))?;
            println!("xtask: target/plugins/{name}");
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
