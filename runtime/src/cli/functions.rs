use std::process::ExitCode;

use berth::wasm::Runtime;

/// `berth functions PLUGIN`
#[derive(clap::Args, Debug)]
pub struct FunctionsArgs {
    /// The plugin: a .wasm file, a project folder, or an installed NAME[@VERSION|@blake3:HEX].
    plugin: String,
}

impl FunctionsArgs {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let runtime = Runtime::new(&berth::cache_dir())?;
        let plugin = super::plugin::load(&runtime, &self.plugin)?;
        for function in plugin.functions() {
            println!("{}", function.wit);
        }
        Ok(ExitCode::SUCCESS)
    }
}
