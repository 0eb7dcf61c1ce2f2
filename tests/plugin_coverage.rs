//! Every plugin under plugins/ is called by at least one test.

mod common;

#[test]
fn every_plugin_folder_is_named_by_a_test() {
    let root = common::root();
    let mut tests = String::new();
    for entry in std::fs::read_dir(root.join("tests")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("plugin_coverage.rs") {
            tests.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    let mut untested = Vec::new();
    for entry in std::fs::read_dir(root.join("plugins")).unwrap().flatten() {
        if !entry.path().join("Cargo.toml").exists() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !tests.contains(&format!("\"{name}\"")) {
            untested.push(name);
        }
    }
    assert!(untested.is_empty(), "plugins no test calls: {untested:?}");
}
