//! `berth plugin install|list|inspect|remove|push`, and how every command
//! that takes a plugin finds it: a file, a project folder, or the store.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use berth::policy::Policy;
use berth::project::Project;
use berth::store::oci::{self, OciRef};
use berth::store::{PluginMetadata, PluginRef, PluginSource, PluginStore};
use berth::wasm::{Plugin, Runtime};

/// The store in berth's data directory.
pub fn store() -> PluginStore {
    PluginStore::new(berth::data_dir().join("plugins"))
}

/// Loads the plugin `text` names: a component file, a project folder (its
/// built component), or an installed plugin, verified against its digest.
pub fn load(runtime: &Runtime, text: &str) -> anyhow::Result<Plugin> {
    match PluginSource::parse(text)? {
        PluginSource::Path(path) if path.is_dir() => {
            Ok(runtime.load(&Project::load(&path)?.component())?)
        }
        PluginSource::Path(path) => Ok(runtime.load(&path)?),
        PluginSource::Stored(reference) => Ok(store().load(runtime, &reference)?),
    }
}

/// `berth plugin ...`
#[derive(clap::Args, Debug)]
pub struct PluginArgs {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PluginCommand {
    /// Validate a plugin and store it by digest: from a .wasm file, a project folder, or oci://REF.
    Install(InstallArgs),
    /// List installed plugins.
    List,
    /// Print an installed plugin's manifest as JSON.
    Inspect {
        /// NAME, NAME@VERSION or NAME@blake3:HEX.
        plugin: PluginRef,
    },
    /// Remove installed plugins.
    Remove {
        /// NAME@VERSION or NAME@blake3:HEX (a bare NAME means its highest version).
        #[arg(required = true)]
        plugins: Vec<PluginRef>,
    },
    /// Publish an installed plugin to an OCI registry as a Wasm component artifact.
    Push {
        /// NAME, NAME@VERSION or NAME@blake3:HEX.
        plugin: PluginRef,
        /// oci://REGISTRY/REPOSITORY[:TAG]; without a tag, the plugin's version is the tag.
        reference: String,
    },
}

/// `berth plugin install SOURCE`
#[derive(clap::Args, Debug)]
struct InstallArgs {
    /// A .wasm file, a project folder (with berth-plugin.toml), or oci://REGISTRY/REPOSITORY[:TAG].
    source: String,
    /// Replace an installed plugin of the same name and version.
    #[arg(long)]
    force: bool,
    /// The name to store it under (default: the project's, the artifact's, or the file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Its version (default: the project's, the artifact's, or 0.0.0 for a file).
    #[arg(long)]
    version: Option<semver::Version>,
    /// Its description.
    #[arg(long)]
    description: Option<String>,
    /// An image it needs (repeatable; replaces the declared list).
    #[arg(long = "needs-image", value_name = "IMAGE")]
    needs_images: Vec<String>,
}

impl PluginArgs {
    pub async fn run(&self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let store = store();
        match &self.command {
            PluginCommand::Install(args) => {
                let policy = Policy::load(config)?;
                let (bytes, metadata) = args.read().await?;
                let runtime = Runtime::new(&berth::cache_dir())?;
                let manifest = store.install(&runtime, &bytes, metadata, args.force)?;
                println!("installed {} ({})", manifest.id(), manifest.digest);
                // A later call may run under another berth.toml, so this only warns.
                if let Err(refusal) = manifest.metadata.needs.check(&policy.images) {
                    eprintln!(
                        "berth: warning: {} needs an image this berth.toml refuses: {refusal}",
                        manifest.id()
                    );
                }
            }
            PluginCommand::List => {
                println!(
                    "{:<24} {:<12} {:<20} {:>10}  DESCRIPTION",
                    "NAME", "VERSION", "DIGEST", "SIZE"
                );
                for manifest in store.list()? {
                    let metadata = &manifest.metadata;
                    println!(
                        "{:<24} {:<12} {:<20} {:>10}  {}",
                        metadata.name,
                        metadata.version.to_string(),
                        format!("blake3:{}", &manifest.digest.hex()[..12]),
                        manifest.size,
                        metadata.description
                    );
                }
            }
            PluginCommand::Inspect { plugin } => {
                let manifest = store.resolve(plugin)?;
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            }
            PluginCommand::Remove { plugins } => {
                for plugin in plugins {
                    let manifest = store.remove(plugin)?;
                    println!("removed {} ({})", manifest.id(), manifest.digest);
                }
            }
            PluginCommand::Push { plugin, reference } => {
                let manifest = store.resolve(plugin)?;
                let bytes = store.read(&manifest)?;
                let pushed = oci::push(&OciRef::parse(reference)?, &manifest, bytes).await?;
                println!("pushed {} to {pushed}", manifest.id());
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl InstallArgs {
    /// The component and what it declares, with the flags' overrides.
    async fn read(&self) -> anyhow::Result<(Vec<u8>, PluginMetadata)> {
        let (bytes, mut metadata) = if self.source.starts_with("oci://") {
            oci::pull(&OciRef::parse(&self.source)?).await?
        } else {
            let path = Path::new(&self.source);
            if path.is_dir() {
                let project = Project::load(path)?;
                (read_file(&project.component())?, project.metadata())
            } else {
                (read_file(path)?, file_metadata(path))
            }
        };
        if let Some(name) = &self.name {
            metadata.name = name.clone();
        }
        if let Some(version) = &self.version {
            metadata.version = version.clone();
        }
        if let Some(description) = &self.description {
            metadata.description = description.clone();
        }
        if !self.needs_images.is_empty() {
            metadata.needs.images = self.needs_images.clone();
        }
        Ok((bytes, metadata))
    }
}

/// A bare component file declares nothing: it is named by its file's stem.
fn file_metadata(path: &Path) -> PluginMetadata {
    PluginMetadata {
        name: path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
        version: semver::Version::new(0, 0, 0),
        description: String::new(),
        needs: Default::default(),
    }
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read plugin {}", path.display()))
}
