//! Image resolution: rewrites from berth.toml and pulls from a registry.

mod common;

use common::{TestSession, docker};

/// The local registry `cargo xtask test` starts (Debian's docker-registry).
const REGISTRY: &str = "127.0.0.1:5000";

#[test]
fn a_missing_image_is_pulled_with_progress() {
    let session = TestSession::new("pull");
    let reference = format!("{REGISTRY}/berth-test/busybox:{}", common::nonce());
    docker(&["tag", "berth.local/busybox:latest", &reference]);
    let pushed = std::process::Command::new("docker")
        .args(["push", &reference])
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "push to the test registry: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    docker(&["rmi", &reference]);

    let output = session.call(
        "pipelines",
        "run-in",
        &["--base", &reference, "--args", "echo", "--args", "pulled"],
    );
    let stderr = common::stderr(&output);
    docker(&["rmi", &reference]);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "pulled\n");
    assert!(
        stderr.contains(&format!("pulling {reference}: pulled")),
        "progress is shown:\n{stderr}"
    );
}

#[test]
fn rewrites_map_public_names_to_local_images() {
    let session = TestSession::new("rewrite");
    // The plugin asks for `busybox`; berth.toml maps it to berth.local/busybox.
    let out = session.call_ok(
        "pipelines",
        "run-in",
        &[
            "--base",
            "busybox",
            "--args",
            "cat",
            "--args",
            "/etc/passwd",
        ],
    );
    assert!(out.starts_with("root:x:0:0"), "{out}");
}

#[test]
fn without_a_rewrite_the_public_name_is_pulled_and_fails_here() {
    let session = TestSession::new("no-rewrite");
    let config = common::root().join("target/test-inputs/empty-berth.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "").unwrap();
    let plugin = common::plugin("pipelines");
    let output = session.run(&[
        "--config",
        config.to_str().unwrap(),
        "call",
        plugin.to_str().unwrap(),
        "run-in",
        "--base",
        "busybox:berth-no-such-tag",
        "--args",
        "true",
    ]);
    common::assert_clear_failure(&output, "image-not-found");
}

#[test]
fn a_failed_pull_shows_the_registry_message() {
    let session = TestSession::new("pull-fails");
    let reference = format!("{REGISTRY}/berth-test/never-pushed:{}", common::nonce());
    let output = session.call(
        "pipelines",
        "run-in",
        &["--base", &reference, "--args", "true"],
    );
    // The registry's own words for a tag it does not have.
    common::assert_clear_failure(&output, "manifest unknown");
    common::assert_clear_failure(&output, &format!("image-not-found: image `{reference}`"));
}
