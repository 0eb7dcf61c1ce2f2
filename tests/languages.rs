//! The greet plugin built from Rust, Python, JavaScript and C behaves the same.

mod common;

use common::TestSession;

const LANGUAGES: [&str; 4] = ["greet-rust", "greet-python", "greet-js", "greet-c"];

#[test]
fn every_language_exports_the_same_functions() {
    let session = TestSession::new("languages-functions");
    for plugin in LANGUAGES {
        let output = session.run(&["functions", common::plugin(plugin).to_str().unwrap()]);
        assert!(
            output.status.success(),
            "{plugin}: {}",
            common::stderr(&output)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "greet: func(name: string) -> result<string, error>\nhttp-service: func() -> service\n",
            "{plugin}"
        );
    }
}

#[test]
fn every_language_greets_from_a_container() {
    let session = TestSession::new("languages-greet");
    for plugin in LANGUAGES {
        assert_eq!(
            session.call_ok(plugin, "greet", &["--name", "world"]),
            "hello, world\n",
            "{plugin}"
        );
    }
}

#[test]
fn every_language_builds_the_same_service() {
    let session = TestSession::new("languages-service");
    let hostnames: Vec<String> = LANGUAGES
        .iter()
        .map(|plugin| session.call_ok(plugin, "http-service", &["hostname"]))
        .collect();
    assert!(
        hostnames.iter().all(|h| h == &hostnames[0]),
        "{LANGUAGES:?}: {hostnames:?}"
    );
}
