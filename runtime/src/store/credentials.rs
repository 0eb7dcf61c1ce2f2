//! Registry credentials, from where Docker keeps them: `config.json` in
//! `$DOCKER_CONFIG`, else in `~/.docker`. `docker login` writes them inline;
//! `credHelpers` and `credsStore` name a helper program, which is asked.
//! A registry with no credentials there is reached anonymously.

use std::path::PathBuf;

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::Error;

/// The credentials Docker's configuration holds for `registry` (as written
/// in a reference, such as `127.0.0.1:5000` or `docker.io`).
pub(super) fn for_registry(registry: &str) -> Result<RegistryAuth, Error> {
    match config_file() {
        Some(path) => from_file(&path, registry),
        None => Ok(RegistryAuth::Anonymous),
    }
}

/// The credentials the Docker configuration `path` holds for `registry`.
fn from_file(path: &std::path::Path, registry: &str) -> Result<RegistryAuth, Error> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(refused(registry, path, e.to_string())),
    };
    // Docker files Docker Hub's credentials under its v1 address.
    let server = match registry {
        "docker.io" | "index.docker.io" => "https://index.docker.io/v1/",
        other => other,
    };
    match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), server) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(RegistryAuth::Basic(username, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => Err(refused(
            registry,
            path,
            "it holds an identity token, which berth cannot use yet: log in with a username and password".into(),
        )),
        Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(refused(registry, path, e.to_string())),
    }
}

/// Docker's `config.json`, when a folder for it is known.
fn config_file() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".docker")))
        .map(|dir| dir.join("config.json"))
}

fn refused(registry: &str, path: &std::path::Path, message: String) -> Error {
    Error::Credentials {
        registry: registry.to_string(),
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_credentials_are_found_by_registry_and_others_are_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // "berth:s3cret", as `docker login` writes it.
        let config = r#"{"auths": {"127.0.0.1:5001": {"auth": "YmVydGg6czNjcmV0"}}}"#;
        std::fs::write(&path, config).unwrap();
        let found = from_file(&path, "127.0.0.1:5001").unwrap();
        let other = from_file(&path, "127.0.0.1:5002").unwrap();
        let missing = from_file(&dir.path().join("none.json"), "127.0.0.1:5001").unwrap();
        std::fs::write(&path, "{not json").unwrap();
        let broken = from_file(&path, "127.0.0.1:5001").unwrap_err().to_string();
        assert_eq!(found, RegistryAuth::Basic("berth".into(), "s3cret".into()));
        assert_eq!(
            (other, missing),
            (RegistryAuth::Anonymous, RegistryAuth::Anonymous)
        );
        assert!(
            broken.contains("credentials for 127.0.0.1:5001"),
            "{broken}"
        );
    }
}
