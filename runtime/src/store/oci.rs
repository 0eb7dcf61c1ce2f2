//! Plugins in OCI registries, as Wasm OCI artifacts in the CNCF layout: one
//! `application/wasm` layer holding the component, and an
//! `application/vnd.wasm.config.v0+json` config describing it. berth's
//! manifest travels in the OCI manifest's annotations, so `install
//! oci://...` gets the name, version, description, needs and blake3 digest
//! that `push` sent, and refuses a component whose digest differs.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tracing::instrument;

use super::manifest::{Digest, Manifest, Needs, PluginMetadata};
use super::{Error, credentials};

/// The config media type of a Wasm OCI artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of its one layer, the component.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

const TITLE: &str = "org.opencontainers.image.title";
const VERSION: &str = "org.opencontainers.image.version";
const DESCRIPTION: &str = "org.opencontainers.image.description";
const CREATED: &str = "org.opencontainers.image.created";
/// The blake3 digest of the component, `blake3:<hex>`.
const DIGEST: &str = "dev.berth.plugin.digest";
/// The images the plugin needs, as a JSON list.
const NEEDS_IMAGES: &str = "dev.berth.plugin.needs.images";

/// A reference written `oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]`.
#[derive(Clone, Debug)]
pub struct OciRef {
    reference: Reference,
    /// Whether the text named a tag or digest (else the tag is the plugin's version on push).
    pinned: bool,
}

impl OciRef {
    /// Reads `oci://...`; anything else is not an OCI reference.
    pub fn parse(text: &str) -> Result<OciRef, Error> {
        let bad = || Error::BadOciReference(text.to_string());
        let rest = text.strip_prefix("oci://").ok_or_else(bad)?;
        let reference: Reference = rest.parse().map_err(|_| bad())?;
        // Without a registry host the reference would silently mean Docker Hub.
        let has_registry = rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('.') || host.contains(':') || host == "localhost");
        if !has_registry || !rest.contains('/') {
            return Err(bad());
        }
        let last = rest.rsplit('/').next().unwrap_or(rest);
        let pinned = last.contains(':') || last.contains('@');
        Ok(OciRef { reference, pinned })
    }

    fn tagged(&self, version: &semver::Version) -> Reference {
        if self.pinned {
            self.reference.clone()
        } else {
            Reference::with_tag(
                self.reference.registry().to_string(),
                self.reference.repository().to_string(),
                version.to_string(),
            )
        }
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}", self.reference.whole())
    }
}

/// The config of a Wasm OCI artifact, as the CNCF layout describes it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    created: String,
    architecture: &'static str,
    os: &'static str,
    layer_digests: Vec<String>,
    component: ComponentDescription<'a>,
}

#[derive(serde::Serialize)]
struct ComponentDescription<'a> {
    exports: Vec<&'a str>,
    imports: &'a [String],
}

/// Pushes an installed plugin's component; returns the reference it is
/// pushed as (tagged with the plugin's version unless the reference names a tag).
#[instrument(skip(manifest, component), fields(plugin = %manifest.id()), err(level = "debug"))]
pub async fn push(
    reference: &OciRef,
    manifest: &Manifest,
    component: Vec<u8>,
) -> Result<String, Error> {
    let target = reference.tagged(&manifest.metadata.version);
    let shown = format!("oci://{}", target.whole());
    let layer = ImageLayer::new(component, LAYER_MEDIA_TYPE.to_string(), None);
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let config = WasmConfig {
        created: created.clone(),
        architecture: "wasm",
        os: "wasip2",
        layer_digests: vec![layer.sha256_digest()],
        component: ComponentDescription {
            exports: manifest.functions.iter().map(|f| f.name.as_str()).collect(),
            imports: &manifest.imports,
        },
    };
    let config = serde_json::to_vec(&config).map_err(|e| Error::Registry {
        action: "pushing",
        reference: shown.clone(),
        message: e.to_string(),
    })?;
    let auth = credentials::for_registry(target.registry())?;
    let config = Config::new(config, CONFIG_MEDIA_TYPE.to_string(), None);
    let layers = [layer];
    let mut oci_manifest =
        OciImageManifest::build(&layers, &config, Some(annotations(manifest, created)));
    oci_manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
    client(&target)
        .push(&target, &layers, config, &auth, Some(oci_manifest))
        .await
        .map_err(|e| registry_error("pushing", &shown, &target, &auth, e))?;
    Ok(shown)
}

/// Pulls a plugin's component and the metadata its artifact carries,
/// refusing anything but a Wasm component artifact whose digest matches.
#[instrument(err(level = "debug"))]
pub async fn pull(reference: &OciRef) -> Result<(Vec<u8>, PluginMetadata), Error> {
    let shown = reference.to_string();
    let target = &reference.reference;
    let auth = credentials::for_registry(target.registry())?;
    let refused = |e| registry_error("pulling", &shown, target, &auth, e);
    let client = client(target);
    let (manifest, _, _) = client
        .pull_manifest_and_config(target, &auth)
        .await
        .map_err(refused)?;
    let not_wasm = |found: String| Error::NotWasmArtifact {
        reference: shown.clone(),
        found,
    };
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "its config is {}, not {CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let layer = match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => layer,
        [layer] => {
            return Err(not_wasm(format!(
                "its layer is {}, not {LAYER_MEDIA_TYPE}",
                layer.media_type
            )));
        }
        layers => return Err(not_wasm(format!("it has {} layers, not one", layers.len()))),
    };
    // The client checks the layer's bytes against its sha256 digest.
    let mut component = Vec::new();
    client
        .pull_blob(target, layer, &mut component)
        .await
        .map_err(refused)?;
    let annotations = manifest.annotations.unwrap_or_default();
    if let Some(expected) = annotations.get(DIGEST) {
        let found = Digest::of(&component).to_string();
        if &found != expected {
            return Err(Error::ArtifactDigest {
                reference: shown,
                expected: expected.clone(),
                found,
            });
        }
    }
    Ok((component, metadata(target, &annotations)))
}

/// A registry's refusal, with a hint where to put credentials when it asked
/// for some and berth had none.
fn registry_error(
    action: &'static str,
    shown: &str,
    target: &Reference,
    auth: &RegistryAuth,
    error: OciDistributionError,
) -> Error {
    // Registries end their JSON bodies with a newline; keep the error one line.
    let mut message = error.to_string().trim().replace('\n', " ");
    let unauthorized = matches!(
        error,
        OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::ServerError { code: 401, .. }
    );
    if unauthorized && *auth == RegistryAuth::Anonymous {
        message.push_str(&format!(
            "; berth found no credentials for {} in Docker's config.json ($DOCKER_CONFIG or ~/.docker): `docker login {}` writes them",
            target.registry(),
            target.registry()
        ));
    }
    Error::Registry {
        action,
        reference: shown.to_string(),
        message,
    }
}

/// berth's manifest as OCI annotations.
fn annotations(manifest: &Manifest, created: String) -> BTreeMap<String, String> {
    let metadata = &manifest.metadata;
    let mut annotations = BTreeMap::from([
        (TITLE.to_string(), metadata.name.clone()),
        (VERSION.to_string(), metadata.version.to_string()),
        (CREATED.to_string(), created),
        (DIGEST.to_string(), manifest.digest.to_string()),
        (
            NEEDS_IMAGES.to_string(),
            serde_json::Value::from(metadata.needs.images.clone()).to_string(),
        ),
    ]);
    if !metadata.description.is_empty() {
        annotations.insert(DESCRIPTION.to_string(), metadata.description.clone());
    }
    annotations
}

/// The metadata an artifact carries. One pushed by another tool may lack
/// berth's annotations: its name is then the repository's last segment, and
/// its version the tag when that is a version, else 0.0.0.
fn metadata(reference: &Reference, annotations: &BTreeMap<String, String>) -> PluginMetadata {
    let repository = reference.repository();
    let name = annotations.get(TITLE).cloned().unwrap_or_else(|| {
        repository
            .rsplit('/')
            .next()
            .unwrap_or(repository)
            .to_string()
    });
    let version = annotations
        .get(VERSION)
        .map(String::as_str)
        .or(reference.tag())
        .and_then(|v| semver::Version::parse(v.trim_start_matches('v')).ok())
        .unwrap_or(semver::Version::new(0, 0, 0));
    let images = annotations
        .get(NEEDS_IMAGES)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    PluginMetadata {
        name,
        version,
        description: annotations.get(DESCRIPTION).cloned().unwrap_or_default(),
        needs: Needs { images },
    }
}

/// A registry client: plain HTTP for a registry on a loopback address (as
/// Docker does), HTTPS with the system's roots otherwise.
fn client(reference: &Reference) -> Client {
    // reqwest is built without a default crypto provider; ring is the one in the tree.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let host = reference
        .registry()
        .rsplit_once(':')
        .map_or(reference.registry(), |(host, _)| host);
    let loopback = host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    Client::new(ClientConfig {
        protocol: if loopback {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_need_the_scheme_and_a_registry() {
        let tagged = OciRef::parse("oci://127.0.0.1:5000/berth/greet:1.0.0").unwrap();
        assert_eq!(tagged.to_string(), "oci://127.0.0.1:5000/berth/greet:1.0.0");
        let untagged = OciRef::parse("oci://127.0.0.1:5000/berth/greet").unwrap();
        assert_eq!(
            untagged.tagged(&semver::Version::new(2, 1, 0)).whole(),
            "127.0.0.1:5000/berth/greet:2.1.0"
        );
        for bad in [
            "127.0.0.1:5000/greet",
            "oci://greet",
            "oci://greet:1.0",
            "oci://",
        ] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_artifact_without_berths_annotations_is_named_by_its_repository_and_tag() {
        let reference: Reference = "127.0.0.1:5000/team/tool:v1.2.3".parse().unwrap();
        let metadata = metadata(&reference, &BTreeMap::new());
        assert_eq!(metadata.name, "tool");
        assert_eq!(metadata.version, semver::Version::new(1, 2, 3));
    }
}
