use std::fmt;

/// A blake3 content digest of a spec or a pipeline step.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex characters, as written by [`Digest::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Digest> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Digest(bytes))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", &self.to_hex()[..12])
    }
}

/// Feeds a canonical serialization into blake3.
///
/// Every value is written with a one-byte tag and, for variable-length data, a
/// length prefix, so no two different sequences of calls hash the same bytes.
#[derive(Clone)]
pub struct CanonicalHasher(blake3::Hasher);

impl CanonicalHasher {
    /// A hasher whose output is specific to `domain` (for example `"berth.container.v1"`).
    pub fn new(domain: &str) -> Self {
        let mut hasher = CanonicalHasher(blake3::Hasher::new());
        hasher.str(domain);
        hasher
    }

    /// Writes a tag that names the field or operation that follows.
    pub fn tag(&mut self, tag: u8) -> &mut Self {
        self.0.update(&[tag]);
        self
    }

    /// Writes length-prefixed bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    /// Writes a length-prefixed list of strings.
    pub fn strs(&mut self, values: &[String]) -> &mut Self {
        self.u64(values.len() as u64);
        for value in values {
            self.str(value);
        }
        self
    }

    /// Writes an optional string, distinguishing `None` from `Some("")`.
    pub fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            None => self.tag(0),
            Some(value) => self.tag(1).str(value),
        }
    }

    /// Writes a fixed-width integer.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.0.update(&value.to_le_bytes());
        self
    }

    /// Writes another digest.
    pub fn digest(&mut self, digest: &Digest) -> &mut Self {
        self.0.update(&digest.0);
        self
    }

    /// The digest of everything written so far.
    pub fn finish(&self) -> Digest {
        Digest(*self.0.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let digest = CanonicalHasher::new("test").str("x").finish();
        assert_eq!(Digest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(Digest::from_hex("zz"), None);
    }

    #[test]
    fn length_prefixes_keep_boundaries_apart() {
        let ab_c = CanonicalHasher::new("t").str("ab").str("c").finish();
        let a_bc = CanonicalHasher::new("t").str("a").str("bc").finish();
        assert_ne!(ab_c, a_bc);
    }

    #[test]
    fn none_differs_from_empty() {
        let none = CanonicalHasher::new("t").opt_str(None).finish();
        let empty = CanonicalHasher::new("t").opt_str(Some("")).finish();
        assert_ne!(none, empty);
    }
}
