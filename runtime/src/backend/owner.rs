//! Who owns an engine object: a host, and a process on it, named so that
//! the name survives pid reuse and means nothing on another host.
//!
//! - The host is `/etc/machine-id` (else the hostname).
//! - The process is `BOOT/PIDNS/PID/START`: the boot id, the inode of its pid
//!   namespace, its pid there, and its start time in clock ticks since boot.
//!
//! A reaper decides only for owners it can check: same host and same pid
//! namespace. An owner of another boot is dead; an owner of another host or
//! pid namespace (another machine or CI container sharing the engine) is
//! foreign, and left alone unless an operator says otherwise (`berth gc --foreign`).

use std::sync::OnceLock;

/// Whether the process that made an object still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerStatus {
    /// It runs: leave its objects.
    Alive,
    /// It is gone: its objects are orphans.
    Dead,
    /// It is of another host or pid namespace: this process cannot tell.
    Foreign,
}

/// The identity of this process, as its objects are labelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `berth.host`.
    pub host: String,
    /// `berth.owner`.
    pub process: String,
}

impl Owner {
    /// This process.
    pub fn this() -> &'static Owner {
        static THIS: OnceLock<Owner> = OnceLock::new();
        THIS.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: host_id(),
                process: format!(
                    "{}/{}/{pid}/{}",
                    boot_id(),
                    pid_namespace(),
                    start_time(pid).unwrap_or_default()
                ),
            }
        })
    }

    /// Whether the owner labelled `host` and `process` still runs, as far as
    /// this process can check.
    pub fn status(host: &str, process: &str) -> OwnerStatus {
        let this = Owner::this();
        let parts: Vec<&str> = process.split('/').collect();
        let [boot, namespace, pid, start] = parts[..] else {
            // A name we cannot read is not ours to judge.
            return OwnerStatus::Foreign;
        };
        let [this_boot, this_namespace, ..] = this.process.split('/').collect::<Vec<_>>()[..]
        else {
            return OwnerStatus::Foreign;
        };
        if host != this.host {
            OwnerStatus::Foreign
        } else if boot != this_boot {
            // Every process of an earlier boot is gone.
            OwnerStatus::Dead
        } else if namespace != this_namespace {
            OwnerStatus::Foreign
        } else {
            match pid.parse::<u32>().ok().and_then(start_time) {
                Some(now) if now == start => OwnerStatus::Alive,
                _ => OwnerStatus::Dead,
            }
        }
    }
}

/// The host's machine id, else its hostname.
fn host_id() -> String {
    read_trimmed("/etc/machine-id")
        .or_else(|| read_trimmed("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

/// The inode of this process's pid namespace (`pid:[4026531836]` -> `4026531836`).
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|link| {
            link.to_string_lossy()
                .trim_start_matches("pid:[")
                .trim_end_matches(']')
                .to_string()
        })
        .unwrap_or_default()
}

/// A process's start time, field 22 of `/proc/PID/stat`, in clock ticks since boot.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_own_name_says_so() {
        let this = Owner::this();
        assert_eq!(Owner::status(&this.host, &this.process), OwnerStatus::Alive);
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_dead() {
        let this = Owner::this();
        let mut parts: Vec<&str> = this.process.split('/').collect();
        parts[3] = "1";
        assert_eq!(
            Owner::status(&this.host, &parts.join("/")),
            OwnerStatus::Dead
        );
    }

    #[test]
    fn another_boot_is_dead_and_another_host_or_namespace_is_foreign() {
        let this = Owner::this();
        let parts: Vec<&str> = this.process.split('/').collect();
        let with = |index: usize, value: &str| {
            let mut changed = parts.clone();
            changed[index] = value;
            changed.join("/")
        };
        assert_eq!(
            Owner::status(&this.host, &with(0, "an-old-boot")),
            OwnerStatus::Dead
        );
        assert_eq!(
            Owner::status(&this.host, &with(1, "1")),
            OwnerStatus::Foreign
        );
        assert_eq!(
            Owner::status("another-host", &this.process),
            OwnerStatus::Foreign
        );
        assert_eq!(Owner::status(&this.host, "garbled"), OwnerStatus::Foreign);
    }
}
