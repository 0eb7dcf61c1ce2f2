use std::path::PathBuf;
use std::process::ExitCode;

use berth::project::scaffold::{self, Language};

/// `berth new --lang LANG NAME`
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The language to write the plugin in.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Language::NAMES))]
    lang: String,

    /// The plugin's name, which is also its WIT world's: lowercase words joined by `-`.
    name: String,

    /// Where to create it (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl NewArgs {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let language: Language = self.lang.parse().map_err(anyhow::Error::msg)?;
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&self.name));
        let project = scaffold::create(&dir, &self.name, language)?;
        println!("created {} in {}", project.metadata().name, dir.display());
        println!("build it:  cd {} && berth build", dir.display());
        println!(
            "call it:   berth call {} greet --name world",
            project.component().display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
