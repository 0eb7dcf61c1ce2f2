use std::path::PathBuf;

/// Why a plugin project could not be created, read or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{} has no berth-plugin.toml; create a plugin with `berth new --lang LANG NAME`", .0.display())]
    NotAProject(PathBuf),

    #[error("{}: {message}", path.display())]
    BadProjectFile { path: PathBuf, message: String },

    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),

    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}) in {}", dir.display())]
    CommandFailed {
        command: String,
        status: String,
        dir: PathBuf,
    },

    #[error("`{command}` succeeded but did not write {}; check `component` in berth-plugin.toml", path.display())]
    NoComponent { command: String, path: PathBuf },

    /// The C bindings or the component could not be made.
    #[error(transparent)]
    Componentize(#[from] berth_componentize::Error),
}
