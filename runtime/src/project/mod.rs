//! A plugin's source folder: `berth-plugin.toml` says what the plugin is,
//! how to build it and where the component lands. `berth new` writes one
//! ([`scaffold`]), `berth build` runs it ([`build`]), and `berth plugin
//! install DIR` stores what it built.

pub mod build;
mod error;
pub mod scaffold;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use error::Error;

use crate::store::{Needs, PluginMetadata};

/// The file that makes a folder a plugin project.
pub const PROJECT_FILE: &str = "berth-plugin.toml";

/// A plugin project, read from its `berth-plugin.toml`.
#[derive(Clone, Debug)]
pub struct Project {
    dir: PathBuf,
    file: ProjectFile,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    name: String,
    version: semver::Version,
    #[serde(default)]
    description: String,
    /// The component the build writes, relative to the project.
    component: PathBuf,
    /// The folder with the plugin's WIT world, relative to the project.
    #[serde(default = "default_wit")]
    wit: PathBuf,
    build: BuildSteps,
    #[serde(default)]
    needs: Needs,
}

/// How `berth build` builds a project.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildSteps {
    /// A shell command run in the project folder.
    pub command: String,
    /// For C: berth writes wit-bindgen-c's bindings for the world in `wit/`
    /// into this folder before the command runs.
    pub c_bindings: Option<PathBuf>,
    /// For compilers that emit a core module (C): berth makes the component
    /// from this wasm32-wasi reactor module, with the WASI preview1 adapter.
    pub adapt: Option<PathBuf>,
}

impl Project {
    /// Reads `DIR/berth-plugin.toml`.
    pub fn load(dir: &Path) -> Result<Project, Error> {
        let path = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::NotAProject(dir.to_path_buf())
            } else {
                Error::Io {
                    action: "reading",
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let file: ProjectFile = toml::from_str(&text).map_err(|e| Error::BadProjectFile {
            path: path.clone(),
            message: e.message().to_string(),
        })?;
        let project = Project {
            dir: dir.to_path_buf(),
            file,
        };
        project
            .metadata()
            .validate()
            .map_err(|e| Error::BadProjectFile {
                path,
                message: e.to_string(),
            })?;
        Ok(project)
    }

    /// The project's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name, version, description and needs it declares.
    pub fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: self.file.name.clone(),
            version: self.file.version.clone(),
            description: self.file.description.clone(),
            needs: self.file.needs.clone(),
        }
    }

    /// Where the build writes the component.
    pub fn component(&self) -> PathBuf {
        self.dir.join(&self.file.component)
    }

    /// How to build it.
    pub fn build_steps(&self) -> &BuildSteps {
        &self.file.build
    }

    /// The folder with the plugin's WIT world (its `deps/` hold berth:core).
    pub fn wit(&self) -> PathBuf {
        self.dir.join(&self.file.wit)
    }

    /// A path in `berth-plugin.toml`, made relative to where berth runs.
    fn path(&self, relative: &Path) -> PathBuf {
        self.dir.join(relative)
    }
}

fn default_wit() -> PathBuf {
    PathBuf::from("wit")
}
