//! `berth new` in every language, built with `berth build` and called with
//! `berth call`, by folder and once installed, against the real engine.
//!
//! The toolchains are the ones `cargo xtask build-plugins` installs: Rust's
//! wasm32-wasip2 target, componentize-py in target/tools/python, npm, and
//! clang with wasi-libc.

mod common;

use common::{TestSession, root};

fn scaffold_build_and_call(lang: &str) {
    let session = TestSession::new(&format!("scaffold-{lang}"));
    let work = tempfile::tempdir_in(root().join("target")).expect("a scratch folder");
    let data = tempfile::tempdir().expect("a plugin store");
    let name = format!("demo-{lang}");
    let project = work.path().join(&name);
    let project = project.to_str().expect("utf-8 path");
    let berth = |args: &[&str]| {
        let tools = root().join("target/tools/python/bin");
        let path = format!(
            "{}:{}",
            tools.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = session
            .berth()
            .env("PATH", path)
            .env("BERTH_DATA_DIR", data.path())
            .env_remove("CARGO_TARGET_DIR")
            .args(args)
            .output()
            .expect("berth runs");
        assert!(
            output.status.success(),
            "berth {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            common::stderr(&output)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    };

    let created = berth(&["new", "--lang", lang, &name, "--dir", project]);
    assert!(
        created.starts_with(&format!("created {name} in {project}\n")),
        "{created}"
    );
    let built = berth(&["build", project]);
    assert!(
        built.ends_with("  greet: func(name: string) -> result<string, error>\n"),
        "{built}"
    );
    assert_eq!(
        berth(&["call", project, "greet", "--name", lang]),
        format!("hello, {lang}\n")
    );

    berth(&["plugin", "install", project]);
    assert_eq!(
        berth(&["call", &format!("{name}@0.1.0"), "greet", "--name", "store"]),
        "hello, store\n"
    );
}

#[test]
fn a_rust_plugin_scaffolds_builds_and_runs() {
    scaffold_build_and_call("rust");
}

#[test]
fn a_python_plugin_scaffolds_builds_and_runs() {
    scaffold_build_and_call("python");
}

#[test]
fn a_javascript_plugin_scaffolds_builds_and_runs() {
    scaffold_build_and_call("js");
}

#[test]
fn a_c_plugin_scaffolds_builds_and_runs() {
    scaffold_build_and_call("c");
}

#[test]
fn a_build_that_fails_says_which_command_failed() {
    let session = TestSession::new("scaffold-fails");
    let work = tempfile::tempdir_in(root().join("target")).expect("a scratch folder");
    let project = work.path().join("broken");
    let run = |args: &[&str]| session.berth().args(args).output().expect("berth runs");
    assert!(
        run(&[
            "new",
            "--lang",
            "c",
            "broken",
            "--dir",
            project.to_str().unwrap()
        ])
        .status
        .success()
    );
    std::fs::write(project.join("plugin.c"), "this is not C").unwrap();
    let failed = run(&["build", project.to_str().unwrap()]);
    common::assert_clear_failure(&failed, "`clang --target=wasm32-wasi");
    let exists = run(&[
        "new",
        "--lang",
        "c",
        "broken",
        "--dir",
        project.to_str().unwrap(),
    ]);
    common::assert_clear_failure(&exists, "already exists");
    let bad_name = run(&["new", "--lang", "rust", "Bad_Name"]);
    common::assert_clear_failure(&bad_name, "`Bad_Name` cannot name a plugin project");
}
