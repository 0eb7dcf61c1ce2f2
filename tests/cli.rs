//! `berth functions` and `berth call` argument and result handling, with the real plugins.

mod common;

use common::TestSession;

#[test]
fn functions_prints_each_export_with_its_wit_signature() {
    let session = TestSession::new("functions");
    let output = session.run(&["functions", common::plugin("hello").to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello: func(name: string) -> string\necho: func(msg: string) -> result<string, error>\n"
    );
}

#[test]
fn functions_names_resources_and_user_types() {
    let session = TestSession::new("functions-types");
    let output = session.run(&["functions", common::plugin("pipelines").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            "run-in: func(base: borrow<container>, args: list<string>) -> result<string, error>\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("echo-all: func(count: u32) -> list<result<string, error>>\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "shade: color, maybe: option<u32>, items: list<string>, at: point) -> string\n"
        ),
        "{text}"
    );
}

#[test]
fn a_string_result_is_printed_as_it_is() {
    let session = TestSession::new("pure");
    assert_eq!(
        session.call_ok("hello", "hello", &["--name", "world"]),
        "Hello, world!\n"
    );
}

#[test]
fn every_kind_of_parameter_maps_from_flags() {
    let session = TestSession::new("params");
    let out = session.call_ok(
        "pipelines",
        "describe",
        &[
            "--text",
            "hi there",
            "--flag",
            "--count",
            "3",
            "--ratio=0.5",
            "--shade",
            "green",
            "--maybe",
            "7",
            "--items",
            "a",
            "--items",
            "b",
            "--at",
            "{x: 1, y: -2}",
        ],
    );
    assert_eq!(
        out,
        "text=hi there flag=true count=3 ratio=0.5 shade=Color::Green maybe=Some(7) items=[\"a\", \"b\"] at=(1,-2)\n"
    );
}

#[test]
fn absent_options_and_switches_take_their_empty_values() {
    let session = TestSession::new("params-absent");
    let out = session.call_ok(
        "pipelines",
        "describe",
        &[
            "--text",
            "t",
            "--count",
            "0",
            "--ratio",
            "1",
            "--shade",
            "red",
            "--items",
            "[\"x\", \"y\"]",
            "--at",
            "{x: 0, y: 0}",
        ],
    );
    assert_eq!(
        out,
        "text=t flag=false count=0 ratio=1 shade=Color::Red maybe=None items=[\"x\", \"y\"] at=(0,0)\n"
    );
}

#[test]
fn other_results_print_as_wave_or_json() {
    let session = TestSession::new("results");
    assert!(
        session
            .call_ok("pipelines", "chatter", &[])
            .ends_with("\n7\n")
    );
    let plugin = common::plugin("pipelines");
    let output = session.run(&[
        "call",
        "--json",
        plugin.to_str().unwrap(),
        "echo-all",
        "--count",
        "2",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "[{\"ok\":\"1\\n\"},{\"ok\":\"2\\n\"}]\n"
    );
}

#[test]
fn guest_output_is_prefixed_with_the_function_name() {
    let session = TestSession::new("guest-output");
    let plugin = common::plugin("pipelines");
    let output = session.run(&["call", plugin.to_str().unwrap(), "chatter"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.starts_with("[chatter] to stdout\n"), "{stdout}");
    assert!(stderr.contains("[chatter] to stderr\n"), "{stderr}");
}

#[test]
fn a_second_load_uses_the_compiled_component_cache() {
    let session = TestSession::new("component-cache");
    let cache = common::root().join("target/test-cache/components");
    let bytes = std::fs::read(common::plugin("hello")).unwrap();
    let hash = blake3::hash(&bytes).to_hex().to_string();
    session.call_ok("hello", "hello", &["--name", "a"]);
    let mut entries: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&hash))
        .map(|name| {
            name.rsplit_once('-')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or(name)
        })
        .map(|rest| {
            rest.split_once('.')
                .map(|(_, ext)| ext.to_string())
                .unwrap_or(rest)
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["cwasm", "functions.json"],
        "one compiled entry for hello.wasm, and its exports' signatures"
    );
}
