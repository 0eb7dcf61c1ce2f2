use std::process::ExitCode;

use std::path::Path;

use anyhow::Context;
use berth::backend::docker::ReapReach;
use berth::pipeline::ExecCache;
use berth::policy::Policy;

/// `berth gc [--all] [--foreign]`
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Also remove the exec cache: its records and the snapshot images they name.
    #[arg(long)]
    all: bool,

    /// Also remove what berth processes of other hosts or pid namespaces
    /// made, running or not (berth cannot tell from here): for leftovers of
    /// a machine or CI container that shared this engine and is gone.
    #[arg(long)]
    foreign: bool,
}

impl GcArgs {
    pub async fn run(&self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let policy = Policy::load(config)?;
        let backend = super::engine(&policy);
        let reach = ReapReach {
            foreign: self.foreign,
            ..ReapReach::GC
        };
        let reaped = backend.remove_orphans(reach).await?;
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
