use std::path::PathBuf;

/// Why a plugin could not be loaded or called.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read plugin {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{plugin} is not a WebAssembly file")]
    NotWasm { plugin: String },

    #[error(
        "{plugin} is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    )]
    CoreModule { plugin: String },

    #[error("{plugin} is not a valid WebAssembly component: {message}")]
    InvalidComponent { plugin: String, message: String },

    #[error(
        "{plugin} imports `{import}`, which berth does not provide; a plugin may import only berth:core@0.1.0 and WASI 0.2"
    )]
    ForeignImport { plugin: String, import: String },

    #[error("{plugin} cannot be linked: {message}")]
    Link { plugin: String, message: String },

    #[error("no function `{name}` in {plugin}; it exports: {}", list(available))]
    UnknownFunction {
        name: String,
        plugin: String,
        available: Vec<String>,
    },

    #[error(
        "`{function}` has no parameter --{name}; its parameters: {}",
        flags(valid)
    )]
    UnknownParameter {
        function: String,
        name: String,
        valid: Vec<String>,
    },

    #[error("`{function}` needs --{name} ({ty})")]
    MissingParameter {
        function: String,
        name: String,
        ty: String,
    },

    #[error("--{name} {value:?} is not a valid {ty}: {message}")]
    BadValue {
        name: String,
        value: String,
        ty: String,
        message: String,
    },

    #[error("expected --NAME VALUE, found `{0}`")]
    BadArgument(String),

    #[error("`{function}` trapped: {message}")]
    Trap { function: String, message: String },

    #[error("`{function}` did not finish within {seconds}s ([limits] timeout in berth.toml)")]
    Timeout { function: String, seconds: f64 },

    #[error(
        "`{function}` tried to grow its memory past {} MiB ([limits] memory in berth.toml)",
        limit >> 20
    )]
    MemoryLimit { function: String, limit: u64 },

    #[error(
        "`{function}` held more than {limit} resource handles at once ([limits] resources in berth.toml)"
    )]
    ResourceLimit { function: String, limit: u32 },

    #[error("setting up the wasm engine: {0}")]
    Engine(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

fn flags(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("--{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
