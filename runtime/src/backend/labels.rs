use std::collections::HashMap;

use super::Owner;

/// Marks every object berth creates.
pub const LABEL_MANAGED: &str = "berth.managed";
/// The session (one run of berth) that created the object.
pub const LABEL_SESSION: &str = "berth.session";
/// The digest of the spec or step the object belongs to.
pub const LABEL_DIGEST: &str = "berth.digest";
/// The pid of the berth process that owns the object, in its own pid namespace.
pub const LABEL_PID: &str = "berth.pid";
/// The host of that process (its machine id); see [`crate::backend::Owner`].
pub const LABEL_HOST: &str = "berth.host";
/// That process, named to survive pid reuse: `BOOT/PIDNS/PID/START`.
pub const LABEL_OWNER: &str = "berth.owner";
/// The `berth serve` tenant whose call made the object (its snapshots too).
pub const LABEL_TENANT: &str = "berth.tenant";
/// What the object is for: `step`, `copy` (files in or out), `snapshot`, `service`, `network`.
pub const LABEL_KIND: &str = "berth.kind";

/// The labels of one engine object.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Labels(HashMap<String, String>);

impl Labels {
    /// The labels every object of a session of this process carries.
    pub fn for_session(session: &str) -> Self {
        let owner = Owner::this();
        Labels(HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_SESSION.to_string(), session.to_string()),
            (LABEL_PID.to_string(), std::process::id().to_string()),
            (LABEL_HOST.to_string(), owner.host.clone()),
            (LABEL_OWNER.to_string(), owner.process.clone()),
        ]))
    }

    /// These labels plus one more.
    pub fn with(&self, key: &str, value: &str) -> Self {
        let mut labels = self.0.clone();
        labels.insert(key.to_string(), value.to_string());
        Labels(labels)
    }

    /// The labels as a map, for the engine.
    pub fn to_map(&self) -> HashMap<String, String> {
        self.0.clone()
    }

    /// One label's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}
