//! The greet plugin in four languages: plugins/greet-rust, greet-python,
//! greet-js and greet-c all export the world in plugins/greet-wit (whose
//! deps/berth-core links to wit/), and each builds to OUT/greet-LANG.wasm.
//!
//! Every toolchain is installed when it is missing and reused when it is
//! there: Debian packages with apt-get, componentize-py into a venv under
//! target/tools, componentize-js with `npm ci` from plugins/greet-js's lock.
//! The C plugin's bindings (wit-bindgen-c) and its component (wit-component
//! with the preview1 reactor adapter) come from berth-componentize, and the
//! check of every component from wasmparser: libraries linked into xtask, so
//! no Rust CLI is installed.
//! A component newer than its sources is not built again, and only a
//! component built in this run is validated again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use wasmparser::{Validator, WasmFeatures};

use crate::{plugins, run};

/// The world every greet plugin exports, and the folder that defines it.
const WORLD: &str = "berth-plugins:greet/greet";
const WIT: &str = "plugins/greet-wit";

const COMPONENTIZE_PY: &str = "0.25.1";

/// clang and wasm-ld for wasm32-wasi, with Debian's wasi-libc sysroot and builtins.
const C_PACKAGES: &[&str] = &["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"];

/// Where one language's build reads and writes.
struct Build<'a> {
    root: &'a Path,
    out: &'a Path,
    /// Pinned tools: target/tools/python (componentize-py's venv).
    tools: PathBuf,
}

impl Build<'_> {
    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn output(&self, name: &str) -> PathBuf {
        self.out.join(format!("{name}.wasm"))
    }

    /// Whether OUTPUT is missing or older than the plugin's folder or the WIT it builds against.
    fn stale(&self, name: &str) -> bool {
        let sources = [
            self.path(&format!("plugins/{name}")),
            self.path(WIT),
            self.path("wit"),
        ];
        let built = modified(&self.output(name));
        built.is_none() || sources.iter().any(|s| newest(s) > built)
    }
}

/// One language: its plugin folder's name and how to build it into
/// `Build::output`, returning whether it wrote the component anew.
type Language = (&'static str, fn(&Build) -> Result<bool>);

const LANGUAGES: &[Language] = &[
    ("greet-rust", rust),
    ("greet-python", python),
    ("greet-js", javascript),
    ("greet-c", c),
];

/// Installs what is missing and builds OUT_DIR/greet-{rust,python,js,c}.wasm,
/// then checks that each component it wrote is valid.
pub fn build_all(root: &Path, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir)?;
    let build = Build {
        root,
        out: out_dir,
        tools: root.join("target/tools"),
    };
    for (name, language) in LANGUAGES {
        let output = build.output(name);
        if !language(&build).with_context(|| format!("building {name}"))? {
            println!("xtask: {} is up to date", output.display());
            continue;
        }
        validate(&output)?;
        println!("xtask: {} is a valid component", output.display());
    }
    Ok(())
}

/// Checks the component at PATH as `wasm-tools validate --features component-model` does.
fn validate(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Validator::new_with_features(WasmFeatures::default() | WasmFeatures::COMPONENT_MODEL)
        .validate_all(&bytes)
        .with_context(|| format!("{} is not a valid component", path.display()))?;
    Ok(())
}

/// A member of the plugins/ workspace; cargo knows when it is up to date.
/// It is copied anew each time, and its 50 KB are validated in a moment.
fn rust(build: &Build) -> Result<bool> {
    plugins::build_rust(&["greet-rust"], build.out)?;
    Ok(true)
}

/// componentize-py bundles CPython and app.py with bindings it generates for the world.
fn python(build: &Build) -> Result<bool> {
    let venv = build.tools.join("python");
    let componentize = venv.join("bin/componentize-py");
    if !reports_version(&componentize, COMPONENTIZE_PY) {
        let create = || {
            let mut command = Command::new("python3");
            command.args(["-m", "venv", "--clear"]).arg(&venv);
            command
        };
        if !succeeds(&mut create()) {
            // Debian's python3 makes venvs only with python3-venv.
            ensure_debian(&["python3", "python3-venv"])?;
            run(&mut create())?;
        }
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY}")))?;
    }
    if !build.stale("greet-python") {
        return Ok(false);
    }
    run(Command::new(&componentize)
        .arg("--wit-path")
        .arg(build.path(WIT))
        .args(["--world", WORLD, "componentize", "--python-path"])
        .arg(build.path("plugins/greet-python"))
        .arg("app")
        .arg("--output")
        .arg(build.output("greet-python")))?;
    Ok(true)
}

/// componentize-js (StarlingMonkey), pinned by plugins/greet-js/package-lock.json.
fn javascript(build: &Build) -> Result<bool> {
    let dir = build.path("plugins/greet-js");
    let installed = dir.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&dir.join("package-lock.json")) {
        if !succeeds(Command::new("npm").arg("--version")) {
            ensure_debian(&["nodejs", "npm"])?;
        }
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir))?;
    }
    if !build.stale("greet-js") {
        return Ok(false);
    }
    // The host links no wasi:http: `http` drops fetch(), `fetch-event` the wasi:http types it still imports.
    run(Command::new(dir.join("node_modules/.bin/componentize-js"))
        .arg(dir.join("greet.js"))
        .arg("--wit")
        .arg(build.path(WIT))
        .args(["--world-name", WORLD])
        .args(["--disable", "http", "--disable", "fetch-event", "--out"])
        .arg(build.output("greet-js")))?;
    Ok(true)
}

/// wit-bindgen-c bindings, clang to a wasm32-wasi reactor module, and the
/// component made with the preview1 reactor adapter (berth-componentize,
/// which `berth build` uses for C plugins too).
fn c(build: &Build) -> Result<bool> {
    ensure_debian(C_PACKAGES)?;
    if !build.stale("greet-c") {
        return Ok(false);
    }
    let work = build.path("target/lang/c");
    let generated = work.join("gen");
    // The bindings include greet_component_type.o, which carries the world into the module.
    berth_componentize::c_bindings(&build.path(WIT), Some(WORLD), &generated)?;
    let module = work.join("greet.core.wasm");
    run(Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-Os",
            "-Wall",
            "-Wextra",
        ])
        .args(["-Wl,--strip-debug", "-I"])
        .arg(&generated)
        .arg(build.path("plugins/greet-c/greet.c"))
        .arg(generated.join("greet.c"))
        .arg(generated.join("greet_component_type.o"))
        .arg("-o")
        .arg(&module))?;
    let module = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
    let component = berth_componentize::componentize(&module)
        .context("making a component of greet.core.wasm")?;
    let output = build.output("greet-c");
    std::fs::write(&output, component).with_context(|| format!("writing {}", output.display()))?;
    Ok(true)
}

/// Installs the Debian PACKAGES that are not installed (updating the lists first).
fn ensure_debian(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !succeeds(Command::new("apt-get").arg("--version")) {
        bail!("{missing:?} are missing, and there is no apt-get to install them");
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing))
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"install ok installed"))
}

fn succeeds(command: &mut Command) -> bool {
    command.output().is_ok_and(|o| o.status.success())
}

/// Whether `BIN --version` runs and names VERSION.
fn reports_version(bin: &Path, version: &str) -> bool {
    Command::new(bin).arg("--version").output().is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|word| word == version)
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time under PATH (following links, skipping
/// node_modules and __pycache__, which the builds themselves write).
fn newest(path: &Path) -> Option<SystemTime> {
    let mut latest = modified(path);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name == "node_modules" || name == "__pycache__" {
                continue;
            }
            latest = latest.max(newest(&entry.path()));
        }
    }
    latest
}
