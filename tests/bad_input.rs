//! Bad input gets one clear error line, a non-zero exit, no panic, and leaves nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::{TestSession, assert_clear_failure, plugin};

fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = common::root().join("target/test-inputs");
    std::fs::create_dir_all(&dir).expect("test input dir");
    let path = dir.join(format!("{}-{name}", common::nonce()));
    std::fs::write(&path, bytes).expect("write test input");
    path
}

fn assert_nothing_left(session: &TestSession) {
    assert!(
        session.images().is_empty(),
        "images left: {:?}",
        session.images()
    );
    assert_eq!(session.containers_created(), 0);
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    let session = TestSession::new("not-wasm");
    let path = write_temp("notes.wasm", b"just some text\n");
    let output = session.run(&["call", path.to_str().unwrap(), "hello"]);
    assert_clear_failure(&output, "is not a WebAssembly file");
    assert_nothing_left(&session);
}

#[test]
fn a_truncated_component_is_refused() {
    let session = TestSession::new("truncated");
    let bytes = std::fs::read(plugin("hello")).unwrap();
    let path = write_temp("truncated.wasm", &bytes[..bytes.len() / 2]);
    let output = session.run(&["call", path.to_str().unwrap(), "hello", "--name", "x"]);
    assert_clear_failure(&output, "is not a valid WebAssembly component");
    assert_nothing_left(&session);
}

#[test]
fn a_core_module_is_refused() {
    let session = TestSession::new("core-module");
    // The smallest valid core module: magic and version, no sections.
    let path = write_temp("core.wasm", b"\0asm\x01\0\0\0");
    let output = session.run(&["functions", path.to_str().unwrap()]);
    assert_clear_failure(&output, "core WebAssembly module, not a component");
}

#[test]
fn a_component_with_foreign_imports_is_refused() {
    let session = TestSession::new("foreign-import");
    let output = session.call("foreign-import", "today", &[]);
    assert_clear_failure(&output, "imports `berth-plugins:foreign-import/weather`");
    assert_nothing_left(&session);
}

#[test]
fn an_unknown_function_lists_the_real_ones() {
    let session = TestSession::new("unknown-function");
    let output = session.call("hello", "helo", &[]);
    assert_clear_failure(&output, "no function `helo`");
    assert_clear_failure(&output, "it exports: hello, echo");
}

#[test]
fn an_unknown_parameter_lists_the_real_ones() {
    let session = TestSession::new("unknown-param");
    let output = session.call("hello", "hello", &["--nam", "x"]);
    assert_clear_failure(&output, "its parameters: --name");
}

#[test]
fn a_missing_parameter_is_named_with_its_type() {
    let session = TestSession::new("missing-param");
    let output = session.call("hello", "echo", &[]);
    assert_clear_failure(&output, "`echo` needs --msg (string)");
    assert_nothing_left(&session);
}

#[test]
fn a_wrong_value_names_the_parameter_and_type() {
    let session = TestSession::new("wrong-value");
    let output = session.call("pipelines", "exit-code", &["--code", "three"]);
    assert_clear_failure(&output, "--code \"three\" is not a valid s32");
    let output = session.call(
        "pipelines",
        "describe",
        &[
            "--text",
            "t",
            "--count",
            "1",
            "--ratio",
            "1",
            "--shade",
            "blue",
            "--items",
            "a",
            "--at",
            "{x: 1, y: 2}",
        ],
    );
    assert_clear_failure(&output, "enum of red, green");
    assert_nothing_left(&session);
}

#[test]
fn a_stray_argument_is_refused() {
    let session = TestSession::new("stray-arg");
    let output = session.call("hello", "hello", &["world"]);
    assert_clear_failure(&output, "expected --NAME VALUE, found `world`");
}

#[test]
fn an_image_that_exists_nowhere_is_image_not_found() {
    let session = TestSession::new("no-image");
    let output = session.call(
        "pipelines",
        "run-in",
        &["--base", "nonexistent.invalid/nothing:1", "--args", "true"],
    );
    assert_clear_failure(&output, "image-not-found");
    assert_nothing_left(&session);
}

#[test]
fn no_engine_is_a_clear_error_within_seconds() {
    let session = TestSession::new("no-engine");
    let started = Instant::now();
    let output = session
        .berth()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "call",
            plugin("hello").to_str().unwrap(),
            "echo",
            "--msg",
            "x",
        ])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_clear_failure(
        &output,
        "no Docker engine at unix:///nonexistent/docker.sock",
    );
}

#[test]
fn a_pure_function_needs_no_engine() {
    let session = TestSession::new("pure-no-engine");
    let output = session
        .berth()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "call",
            plugin("hello").to_str().unwrap(),
            "hello",
            "--name",
            "x",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello, x!\n");
}

#[test]
fn an_unknown_config_key_is_named() {
    let session = TestSession::new("bad-config");
    let config = write_temp("berth.toml", b"[limits]\ntimout = \"1s\"\n");
    let output = session.run(&[
        "--config",
        config.to_str().unwrap(),
        "call",
        plugin("hello").to_str().unwrap(),
        "hello",
        "--name",
        "x",
    ]);
    assert_clear_failure(&output, "timout");
}

#[test]
fn a_relay_whose_image_cannot_run_fails_at_once_naming_the_setting() {
    let session = TestSession::uncached("relay-image");
    let base = std::fs::read_to_string(common::root().join("berth.toml")).unwrap();
    // Nothing listens on port 1: the pull is refused at once, here.
    let config = write_temp(
        "relay.toml",
        format!(
            "{base}\n[engine]\nreach = \"relay\"\nrelay_image = \"127.0.0.1:1/berth-test/no-relay:1\"\n"
        )
        .as_bytes(),
    );
    let started = Instant::now();
    let output = session.run(&[
        "--config",
        config.to_str().unwrap(),
        "call",
        plugin("http-demo").to_str().unwrap(),
        "fetch-many",
        "--clients",
        "1",
    ]);
    assert_clear_failure(&output, "[engine] relay_image");
    // The health timeout is 60 s: asking again cannot help, so berth does not.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it failed at once, not at the health timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(session.created_of_kind("step"), 0, "no client ran");
    assert!(session.leftovers().is_empty(), "{:?}", session.leftovers());
}
