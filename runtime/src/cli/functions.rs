use std::path::PathBuf;
use std::process::ExitCode;

use berth::wasm::Runtime;

/// `berth functions PLUGIN`
#[derive(clap::Args, Debug)]
pub struct FunctionsArgs {
    /// The plugin's .wasm file.
    plugin: PathBuf,
}

impl FunctionsArgs {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let runtime = Runtime::new(&berth::cache_dir())?;
        let plugin = runtime.load(&self.plugin)?;
        for function in plugin.functions() {
            println!("{}", function.wit);
        }
        Ok(ExitCode::SUCCESS)
    }
}
