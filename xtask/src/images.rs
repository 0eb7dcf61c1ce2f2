//! Local base images, built from Debian packages because no registry is reachable.
//!
//! busybox comes from the host's `busybox-static`; the Debian roots come from
//! `debootstrap --variant=minbase` against the mirror the host's apt uses.
//! Each is imported with `docker import`, so nothing is pulled.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{root, run};

/// A Debian root image and the packages it holds.
struct DebianImage {
    tag: &'static str,
    packages: &'static str,
}

pub const BUSYBOX: &str = "berth.local/busybox:latest";

const DEBIAN_IMAGES: &[DebianImage] = &[
    // python3-minimal lacks http.server, which the services example serves with.
    DebianImage {
        tag: "berth.local/python:latest",
        packages: "python3",
    },
    DebianImage {
        tag: "berth.local/mariadb:latest",
        packages: "mariadb-server,mariadb-client",
    },
];

/// The label that marks images xtask built (and `berth gc` leaves alone).
const BASE_LABEL: &str = "berth.base=true";

/// Every local image, for copying to the other engines the tests run on.
pub fn all() -> Vec<&'static str> {
    std::iter::once(BUSYBOX)
        .chain(DEBIAN_IMAGES.iter().map(|image| image.tag))
        .collect()
}

/// Builds every local image the engine lacks.
pub fn build_missing() -> Result<()> {
    build_missing_of(&all())
}

/// Builds those of the local images `wanted` that the engine lacks.
pub fn build_missing_of(wanted: &[&str]) -> Result<()> {
    let work = root().join("target/images");
    std::fs::create_dir_all(&work)?;
    if wanted.contains(&BUSYBOX) && !exists(BUSYBOX) {
        build_busybox(&work)?;
    }
    let missing: Vec<&DebianImage> = DEBIAN_IMAGES
        .iter()
        .filter(|i| wanted.contains(&i.tag) && !exists(i.tag))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    ensure_debootstrap()?;
    let mirror = debian_mirror()?;
    let codename = debian_codename()?;
    // debootstrap spends most of its time waiting on downloads and dpkg; run them side by side.
    std::thread::scope(|scope| {
        let builds: Vec<_> = missing
            .iter()
            .map(|image| {
                let (work, mirror, codename) = (&work, &mirror, &codename);
                scope.spawn(move || build_debian(image, work, mirror, codename))
            })
            .collect();
        builds
            .into_iter()
            .map(|b| {
                b.join()
                    .unwrap_or_else(|_| bail!("an image build panicked"))
            })
            .collect::<Result<Vec<()>>>()
            .map(|_| ())
    })
}

fn exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn build_busybox(work: &Path) -> Result<()> {
    println!("xtask: building {BUSYBOX} from busybox-static");
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        run(Command::new("apt-get").args(["install", "-y", "busybox-static"]))?;
    }
    let rootfs = fresh_dir(&work.join("busybox-rootfs"))?;
    for dir in [
        "bin", "sbin", "usr/bin", "usr/sbin", "tmp", "etc", "root", "proc", "sys", "dev", "var",
    ] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox"))?;
    let applets = Command::new(busybox).arg("--list-full").output()?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        let link = rootfs.join(applet);
        if applet != "bin/busybox" && !link.exists() {
            std::os::unix::fs::symlink("/bin/busybox", &link)?;
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
    import(&rootfs, BUSYBOX, "sh")
}

fn build_debian(image: &DebianImage, work: &Path, mirror: &str, codename: &str) -> Result<()> {
    println!(
        "xtask: building {} (debootstrap {codename} with {})",
        image.tag, image.packages
    );
    let name = image
        .tag
        .trim_start_matches("berth.local/")
        .replace(':', "-");
    let rootfs = fresh_dir(&work.join(format!("{name}-rootfs")))?;
    let log = work.join(format!("{name}-debootstrap.log"));
    let status = Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={}", image.packages),
            codename,
        ])
        .arg(&rootfs)
        .arg(mirror)
        .stdout(Stdio::from(std::fs::File::create(&log)?))
        .stderr(Stdio::from(std::fs::File::create(
            log.with_extension("err"),
        )?))
        .status()
        .context("running debootstrap")?;
    if !status.success() {
        bail!(
            "debootstrap for {} failed; see {}",
            image.tag,
            log.display()
        );
    }
    for cache in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = rootfs.join(cache);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
    }
    import(&rootfs, image.tag, "bash")?;
    std::fs::remove_dir_all(&rootfs)?;
    Ok(())
}

/// `tar` the root and `docker import` it with a default command and PATH.
fn import(rootfs: &Path, tag: &str, cmd: &str) -> Result<()> {
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("running tar")?;
    let archive = tar.stdout.take().context("tar's output")?;
    let status = Command::new("docker")
        .args([
            "import",
            "--change",
            &format!("CMD [\"{cmd}\"]"),
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            &format!("LABEL {BASE_LABEL}"),
            "-",
            tag,
        ])
        .stdin(Stdio::from(archive))
        .stdout(Stdio::null())
        .status()
        .context("running docker import")?;
    let tar_status = tar.wait()?;
    if !status.success() || !tar_status.success() {
        bail!("importing {tag} failed");
    }
    println!("xtask: built {tag}");
    Ok(())
}

fn fresh_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

fn ensure_debootstrap() -> Result<()> {
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok()
    {
        return Ok(());
    }
    run(Command::new("apt-get").args(["install", "-y", "debootstrap"]))
}

/// The Debian release this machine runs, such as `bookworm`.
fn debian_codename() -> Result<String> {
    let release = std::fs::read_to_string("/etc/os-release").context("reading /etc/os-release")?;
    release
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|c| c.trim_matches('"').to_string())
        .filter(|c| !c.is_empty())
        .context("no VERSION_CODENAME in /etc/os-release")
}

/// The Debian mirror of the host's apt sources (one-line or deb822 form).
fn debian_mirror() -> Result<String> {
    let codename = debian_codename()?;
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(mirror) = mirror_in(&text, &codename) {
            return Ok(mirror);
        }
    }
    bail!("no Debian mirror for {codename} in /etc/apt/sources.list or sources.list.d")
}

fn mirror_in(text: &str, codename: &str) -> Option<String> {
    // One-line form: deb [options] URI SUITE COMPONENTS...
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let words: Vec<&str> = rest
            .split_whitespace()
            .skip_while(|w| w.starts_with('['))
            .collect();
        if let [uri, suite, ..] = words[..]
            && suite == codename
        {
            return Some(uri.to_string());
        }
    }
    // deb822 form: stanzas of `Key: value` lines separated by blank lines.
    for stanza in text.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        };
        let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) else {
            continue;
        };
        let is_deb = field("Types:").is_none_or(|t| t.split_whitespace().any(|t| t == "deb"));
        if is_deb && suites.split_whitespace().any(|s| s == codename) {
            return uris.split_whitespace().next().map(String::from);
        }
    }
    None
}
