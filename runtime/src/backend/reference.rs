//! Image references as engines read them: `busybox`, `busybox:1.36`,
//! `127.0.0.1:5000/x:1`, `name@sha256:...`, each in its one full form.

/// The reference without its tag or digest.
pub fn without_tag(reference: &str) -> &str {
    if let Some((name, _)) = reference.split_once('@') {
        return name;
    }
    let last_segment = reference.rsplit('/').next().unwrap_or(reference);
    match last_segment.rfind(':') {
        Some(colon) => &reference[..reference.len() - last_segment.len() + colon],
        None => reference,
    }
}

/// `busybox` -> `docker.io/library/busybox:latest`; references with a digest keep it.
pub fn normalize(reference: &str) -> String {
    let name = without_tag(reference);
    let suffix = match &reference[name.len()..] {
        "" => ":latest",
        suffix => suffix,
    };
    format!("{}{suffix}", qualify(name))
}

/// `busybox` -> `docker.io/library/busybox`, `me/app` -> `docker.io/me/app`;
/// a name whose first part is a registry (a `.`, a `:` or `localhost`) is
/// already whole. Docker Hub, named `docker.io` or by its old name
/// `index.docker.io`, keeps official images under `library/`, as Docker reads them.
pub fn qualify(name: &str) -> String {
    if let Some(rest) = name
        .strip_prefix("index.docker.io/")
        .or_else(|| name.strip_prefix("docker.io/"))
    {
        return match rest.contains('/') {
            true => format!("docker.io/{rest}"),
            false => format!("docker.io/library/{rest}"),
        };
    }
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// Whether `reference` is an image id rather than a name: `sha256:HEX`, or
/// 64 hex digits. (A shorter hex string is a valid name, which an engine may
/// still take as an id prefix: [`names`] tells the two apart by the answer.)
pub fn is_image_id(reference: &str) -> bool {
    reference.starts_with("sha256:")
        || (reference.len() == 64 && reference.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether an image known by `known` (its tags and digests, as an engine
/// lists them) is the image that `reference` names.
pub fn names<'a>(reference: &str, known: impl IntoIterator<Item = &'a str>) -> bool {
    let wanted = normalize(reference);
    known.into_iter().any(|name| normalize(name) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_with_port_is_not_a_tag() {
        assert_eq!(normalize("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(without_tag("127.0.0.1:5000/x"), "127.0.0.1:5000/x");
        assert_eq!(without_tag("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x");
    }

    #[test]
    fn ids_are_not_names() {
        let id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(is_image_id(id));
        assert!(is_image_id(&id[7..]));
        assert!(is_image_id("sha256:0123"));
        assert!(
            !is_image_id("0123456789ab"),
            "a valid name, checked by the answer"
        );
        assert!(!is_image_id("busybox"));
    }

    #[test]
    fn docker_hubs_old_name_is_docker_hub() {
        assert_eq!(
            normalize("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize("index.docker.io/me/app:1"), "docker.io/me/app:1");
        assert_eq!(
            normalize("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn a_name_matches_the_engines_spelling_of_it() {
        assert!(names("busybox", ["busybox:latest"]));
        assert!(names("busybox", ["docker.io/library/busybox:latest"]));
        assert!(names(
            "berth.local/busybox:latest",
            ["berth.local/busybox:latest"]
        ));
        assert!(names("busybox@sha256:ab", ["busybox@sha256:ab"]));
        assert!(!names(
            "0123456789ab",
            ["berth-cache/0a1b2c3d4e5f:0123456789ab"]
        ));
        assert!(!names("busybox:1", ["busybox:latest"]));
    }
}
