//! `berth build`: runs a project's build command, with the two steps a C
//! toolchain cannot do itself done in-process, so that building a C plugin
//! needs only clang and wasi-libc, not the wit-bindgen and wasm-tools CLIs.

use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::{info, instrument};

use super::{Error, Project};

/// Builds the project and returns the path of the component it wrote.
///
/// In order: the C bindings (when `c-bindings` is set), the command (its
/// output goes to this process's stdout and stderr), and the component made
/// from the core module (when `adapt` is set).
#[instrument(skip_all, fields(project = %project.dir().display()), err(level = "debug"))]
pub fn build(project: &Project) -> Result<PathBuf, Error> {
    let steps = project.build_steps();
    if let Some(out) = &steps.c_bindings {
        berth_componentize::c_bindings(&project.wit(), None, &project.path(out))?;
    }
    run(&steps.command, project.dir())?;
    let component = project.component();
    if let Some(module) = &steps.adapt {
        componentize(&project.path(module), &component)?;
    }
    if !component.is_file() {
        return Err(Error::NoComponent {
            command: steps.command.clone(),
            path: component,
        });
    }
    Ok(component)
}

/// Runs `command` with `sh -c` in `dir`.
fn run(command: &str, dir: &Path) -> Result<(), Error> {
    info!(command, "running the build command");
    let status = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .status()
        .map_err(|source| Error::Io {
            action: "running sh for",
            path: dir.to_path_buf(),
            source,
        })?;
    if !status.success() {
        return Err(Error::CommandFailed {
            command: command.to_string(),
            status: status.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Makes the component from the core module at `module`.
fn componentize(module: &Path, component: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(module).map_err(|source| Error::Io {
        action: "reading",
        path: module.to_path_buf(),
        source,
    })?;
    let encoded = berth_componentize::componentize(&bytes)?;
    if let Some(dir) = component.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "creating",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(component, encoded).map_err(|source| Error::Io {
        action: "writing",
        path: component.to_path_buf(),
        source,
    })
}
