//! Which images a plugin may ask for, and which image a reference really means.

use std::collections::BTreeMap;

use crate::backend::reference::{normalize as normalize_reference, qualify, without_tag};

/// Which images a plugin may ask for, and which image each really means.
#[derive(Clone, Debug)]
pub struct ImagePolicy {
    allow: Vec<AllowPattern>,
    /// Whether berth.toml wrote `allow` (else every image is allowed).
    allow_written: bool,
    rewrite: BTreeMap<String, String>,
}

/// One `allow` entry: the pattern as written, and in its full form
/// (`busybox` also as `docker.io/library/busybox`).
#[derive(Clone, Debug)]
struct AllowPattern {
    written: glob::Pattern,
    qualified: glob::Pattern,
}

impl AllowPattern {
    fn new(pattern: &str) -> Result<AllowPattern, glob::PatternError> {
        Ok(AllowPattern {
            written: glob::Pattern::new(pattern)?,
            qualified: glob::Pattern::new(&qualify(pattern))?,
        })
    }

    fn matches(&self, spelling: &str) -> bool {
        self.written.matches(spelling) || self.qualified.matches(spelling)
    }
}

impl Default for ImagePolicy {
    /// Every image allowed, none rewritten.
    fn default() -> Self {
        ImagePolicy {
            allow: vec![AllowPattern::new("*").expect("`*` is a pattern")],
            allow_written: false,
            rewrite: BTreeMap::new(),
        }
    }
}

impl ImagePolicy {
    /// A policy allowing the images that match `allow` (every image when
    /// `None`), with rewrite rules whose keys match after normalizing tags.
    /// A bad pattern or rule is returned as its key (`allow`,
    /// `rewrite.KEY`) and the reason.
    pub fn new(
        allow: Option<Vec<String>>,
        rewrite: BTreeMap<String, String>,
    ) -> Result<ImagePolicy, (String, String)> {
        let allow_written = allow.is_some();
        let allow = match allow {
            None => ImagePolicy::default().allow,
            Some(patterns) => patterns
                .iter()
                .map(|p| {
                    AllowPattern::new(p).map_err(|e| ("allow".to_string(), format!("`{p}`: {e}")))
                })
                .collect::<Result<_, _>>()?,
        };
        for (from, to) in &rewrite {
            if from.trim().is_empty() || to.trim().is_empty() {
                return Err((
                    format!("rewrite.{from}"),
                    "image references must not be empty".into(),
                ));
            }
        }
        Ok(ImagePolicy {
            allow,
            allow_written,
            rewrite: rewrite
                .into_iter()
                .map(|(from, to)| (normalize_reference(&from), to))
                .collect(),
        })
    }

    /// The policy for a tenant of `berth serve`: as written, except that
    /// a policy without `allow` allows only the images its rewrite rules
    /// name (the ones the operator mapped), not every image.
    pub fn for_tenant(&self) -> ImagePolicy {
        if self.allow_written {
            return self.clone();
        }
        let allow = self
            .rewrite
            .keys()
            .filter_map(|from| AllowPattern::new(&glob::Pattern::escape(from)).ok())
            .collect();
        ImagePolicy {
            allow,
            allow_written: true,
            rewrite: self.rewrite.clone(),
        }
    }

    /// Refuses an image a plugin may not ask for, saying what it may.
    ///
    /// A pattern, as written and in its full form, is matched against the
    /// reference as written and in its full form
    /// (`docker.io/library/busybox:latest`), each with and without its tag:
    /// `busybox` allows every tag of busybox, `busybox:1.*` some, and
    /// `berth.local/*` everything under that registry.
    pub fn check_allowed(&self, reference: &str) -> Result<(), String> {
        let full = normalize_reference(reference);
        let spellings = [reference, &full, without_tag(reference), without_tag(&full)];
        let allowed = self
            .allow
            .iter()
            .any(|pattern| spellings.iter().any(|s| pattern.matches(s)));
        if allowed {
            return Ok(());
        }
        let patterns: Vec<&str> = self.allow.iter().map(|p| p.written.as_str()).collect();
        Err(format!(
            "image `{reference}` is not allowed: berth.toml [images] allow is [{}]",
            patterns.join(", ")
        ))
    }

    /// The reference to resolve in place of `reference`.
    ///
    /// `busybox`, `busybox:latest` and `docker.io/library/busybox:latest` all
    /// match a rule written for any of them.
    pub fn rewrite(&self, reference: &str) -> String {
        self.rewrite
            .get(&normalize_reference(reference))
            .cloned()
            .unwrap_or_else(|| reference.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowing(patterns: &[&str]) -> ImagePolicy {
        ImagePolicy::new(
            Some(patterns.iter().map(|p| p.to_string()).collect()),
            BTreeMap::new(),
        )
        .unwrap()
    }

    #[test]
    fn rewrites_match_any_spelling() {
        let policy = ImagePolicy::new(
            None,
            [("busybox".to_string(), "local/busybox:1".to_string())].into(),
        )
        .unwrap();
        for spelling in [
            "busybox",
            "busybox:latest",
            "docker.io/library/busybox:latest",
        ] {
            assert_eq!(policy.rewrite(spelling), "local/busybox:1");
        }
        assert_eq!(policy.rewrite("busybox:2"), "busybox:2");
    }

    #[test]
    fn allow_patterns_match_any_spelling_and_tag() {
        let policy = allowing(&["busybox", "python:3.*", "berth.local/*"]);
        for ok in [
            "busybox",
            "busybox:1.36",
            "docker.io/library/busybox:latest",
            "python:3.11-slim",
            "berth.local/mariadb:latest",
        ] {
            assert!(policy.check_allowed(ok).is_ok(), "{ok}");
        }
        for refused in ["alpine", "python:2.7", "evil.io/busybox", "busybox-evil"] {
            assert!(policy.check_allowed(refused).is_err(), "{refused}");
        }
        assert_eq!(
            allowing(&["busybox"]).check_allowed("alpine").unwrap_err(),
            "image `alpine` is not allowed: berth.toml [images] allow is [busybox]"
        );
    }

    #[test]
    fn a_tenant_without_an_allow_list_gets_only_the_mapped_images() {
        let policy = ImagePolicy::new(
            None,
            [(
                "busybox".to_string(),
                "berth.local/busybox:latest".to_string(),
            )]
            .into(),
        )
        .unwrap();
        assert!(
            policy.check_allowed("alpine").is_ok(),
            "the CLI allows every image"
        );
        let tenant = policy.for_tenant();
        for ok in [
            "busybox",
            "busybox:latest",
            "docker.io/library/busybox:latest",
        ] {
            assert!(tenant.check_allowed(ok).is_ok(), "{ok}");
        }
        for refused in ["alpine", "busybox:1.36", "berth.local/busybox:latest"] {
            assert!(tenant.check_allowed(refused).is_err(), "{refused}");
        }
        let written = allowing(&["alpine"]).for_tenant();
        assert!(
            written.check_allowed("alpine").is_ok(),
            "a written list stays"
        );
    }
}
