use std::process::ExitCode;

use anyhow::Context;
use berth::backend::docker::DockerBackend;
use berth::pipeline::ExecCache;

/// `berth gc [--all]`
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Also remove the exec cache: its records and the snapshot images they name.
    #[arg(long)]
    all: bool,
}

impl GcArgs {
    pub async fn run(&self) -> anyhow::Result<ExitCode> {
        let backend = DockerBackend::new();
        let containers = backend.remove_orphans().await?;
        println!("removed {containers} containers of berth processes that are gone");
        if self.all {
            let cache = ExecCache::new(berth::cache_dir().join("exec"));
            let images = backend.remove_images(&cache.snapshots()).await?;
            cache
                .clear()
                .with_context(|| format!("removing the exec cache {}", cache.dir().display()))?;
            println!(
                "removed the exec cache ({}) and {images} snapshot images",
                cache.dir().display()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
