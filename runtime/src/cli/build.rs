use std::path::PathBuf;
use std::process::ExitCode;

use berth::project::{Project, build};
use berth::wasm::Runtime;

/// `berth build [DIR]`
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The plugin project (a folder with berth-plugin.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

impl BuildArgs {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let project = Project::load(&self.dir)?;
        let component = build::build(&project)?;
        // Loading validates it as berth will run it, and compiles it into the cache.
        let runtime = Runtime::new(&berth::cache_dir())?;
        let plugin = runtime.load(&component)?;
        println!("built {}", component.display());
        for function in plugin.functions() {
            println!("  {}", function.wit);
        }
        Ok(ExitCode::SUCCESS)
    }
}
