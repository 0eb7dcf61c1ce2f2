//! What the wit-bindgen and wasm-tools CLIs do for a C plugin, as a library:
//! the C bindings of a WIT world, and a component made from the core module
//! clang builds with them. `berth build` and xtask's build of
//! plugins/greet-c both use it, so neither needs those CLIs (which take
//! many minutes to `cargo install`).

use std::path::{Path, PathBuf};

use wit_bindgen_core::wit_parser::Resolve;
use wit_component::ComponentEncoder;

/// Why bindings or a component could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("generating C bindings for the world in {}: {message}", wit.display())]
    Bindings { wit: PathBuf, message: String },

    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("making a component of the core module: {0}")]
    Componentize(String),
}

/// Writes what `wit-bindgen c --world WORLD --out-dir OUT WIT` writes:
/// `W.c`, `W.h` and `W_component_type.o` (the object that carries the world
/// into the core module), for `world`, or the package's only world when `None`.
pub fn c_bindings(wit: &Path, world: Option<&str>, out: &Path) -> Result<(), Error> {
    let failed = |message: String| Error::Bindings {
        wit: wit.to_path_buf(),
        message,
    };
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .map_err(|e| failed(format!("{e:#}")))?;
    let world = resolve
        .select_world(&[package], world)
        .map_err(|e| failed(format!("{e:#}")))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| failed(format!("{e:#}")))?;
    std::fs::create_dir_all(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents).map_err(|source| Error::Write { path, source })?;
    }
    Ok(())
}

/// What `wasm-tools component new --adapt wasi_snapshot_preview1=REACTOR`
/// does: a wasm32-wasi reactor module, whose component-type section names
/// its world, becomes a component whose preview1 imports the adapter maps
/// to WASI 0.2. Like the CLI, it names the shim modules and validates the result.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, Error> {
    ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.debug_names(true).validate(true).encode())
        .map_err(|e| Error::Componentize(format!("{e:#}")))
}
