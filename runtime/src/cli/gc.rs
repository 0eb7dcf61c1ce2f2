use std::process::ExitCode;

use std::path::Path;

use anyhow::Context;
use berth::pipeline::ExecCache;
use berth::policy::Policy;

/// `berth gc [--all]`
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Also remove the exec cache: its records and the snapshot images they name.
    #[arg(long)]
    all: bool,
}

impl GcArgs {
    pub async fn run(&self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let policy = Policy::load(config)?;
        let backend = super::engine(&policy);
        let reaped = backend.remove_orphans().await?;
        println!(
            "removed {} containers and {} images of berth processes that are gone",
            reaped.containers, reaped.images
        );
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
