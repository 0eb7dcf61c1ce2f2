//! Container pipeline semantics, through the real `pipelines` plugin on the real engine.

mod common;

use common::{TestSession, assert_clear_failure, nonce, stderr};

#[test]
fn new_file_is_written_with_its_permissions() {
    let session = TestSession::new("new-file");
    let out = session.call_ok(
        "pipelines",
        "file-roundtrip",
        &["--contents", "abc", "--permissions", "384"],
    );
    assert_eq!(out, "600\nabc\n");
    let default = session.call_ok("pipelines", "file-roundtrip", &["--contents", "xyz"]);
    assert_eq!(default, "644\nxyz\n");
}

#[test]
fn env_variable_and_workdir_reach_the_command() {
    let session = TestSession::new("env-workdir");
    let out = session.call_ok(
        "pipelines",
        "env-and-workdir",
        &["--value", "hello world", "--workdir", "/srv/app"],
    );
    assert_eq!(out, "hello world /srv/app\n");
}

#[test]
fn exec_arguments_follow_the_entrypoint() {
    let session = TestSession::new("entrypoint");
    assert_eq!(
        session.call_ok("pipelines", "entrypoint", &["--arg", "X"]),
        "entry: X\n"
    );
}

#[test]
fn each_step_starts_from_the_previous_snapshot() {
    let session = TestSession::new("chain");
    assert_eq!(session.call_ok("pipelines", "chain", &[]), "one\ntwo\n");
}

#[test]
fn exit_code_returns_a_non_zero_code() {
    let session = TestSession::new("exit-code");
    assert_eq!(
        session.call_ok("pipelines", "exit-code", &["--code", "3"]),
        "3\n"
    );
    assert_eq!(
        session.call_ok("pipelines", "exit-code", &["--code", "0"]),
        "0\n"
    );
}

#[test]
fn stdout_of_a_failed_command_is_exec_failed_with_code_and_output() {
    let session = TestSession::new("exec-failed");
    let output = session.call("pipelines", "failing-stdout", &["--code", "4"]);
    assert_clear_failure(&output, "exec-failed");
    let stderr = stderr(&output);
    assert!(stderr.contains("exited with code 4"), "{stderr}");
    assert!(
        stderr.contains("| err"),
        "the command's stderr is shown:\n{stderr}"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn stderr_is_captured_apart_from_stdout() {
    let session = TestSession::new("stderr");
    assert_eq!(
        session.call_ok("pipelines", "stderr-of", &["--text", "oops"]),
        "oops\n"
    );
}

#[test]
fn file_reads_what_steps_and_later_files_wrote() {
    let session = TestSession::new("file");
    assert_eq!(
        session.call_ok("pipelines", "read-file", &["--path", "/out/file.txt"]),
        "made\n"
    );
    assert_eq!(
        session.call_ok("pipelines", "read-file", &["--path", "/out/later.txt"]),
        "written after\n"
    );
}

#[test]
fn file_follows_symbolic_links() {
    let session = TestSession::new("file-symlink");
    assert_eq!(
        session.call_ok("pipelines", "read-file", &["--path", "/out/link.txt"]),
        "made\n"
    );
}

#[test]
fn a_command_that_does_not_exist_is_exec_failed_with_127() {
    let session = TestSession::new("no-command");
    let output = session.call(
        "pipelines",
        "run-in",
        &["--base", "busybox", "--args", "no-such-command"],
    );
    assert_clear_failure(
        &output,
        "exec-failed: `no-such-command` exited with code 127",
    );
}

#[test]
fn one_failed_step_is_run_once_per_call() {
    let session = TestSession::uncached("failed-once");
    let out = session.call_ok("pipelines", "failure-details", &["--code", "5"]);
    let details: Vec<&str> = out
        .trim()
        .trim_matches(['[', ']'])
        .split("\", \"")
        .collect();
    assert_eq!(details.len(), 3, "{out}");
    assert!(details[0].starts_with("\"ErrorKind::ExecFailed: "), "{out}");
    assert_eq!(
        details[0].trim_matches('"'),
        details[1].trim_matches('"'),
        "one run's stderr: {out}"
    );
    assert_eq!(details[2].trim_matches('"'), "5");
    assert_eq!(session.created_of_kind("step"), 1);
}

#[test]
fn file_that_does_not_exist_is_a_clear_error() {
    let session = TestSession::new("no-file");
    let output = session.call("pipelines", "read-file", &["--path", "/nope"]);
    assert_clear_failure(&output, "no file `/nope`");
    let output = session.call("pipelines", "read-file", &["--path", "/out"]);
    assert_clear_failure(&output, "is a directory");
}

#[test]
fn a_container_parameter_takes_an_image_address() {
    let session = TestSession::new("container-param");
    let out = session.call_ok(
        "pipelines",
        "run-in",
        &["--base", "busybox", "--args", "echo", "--args", "hi"],
    );
    assert_eq!(out, "hi\n");
}

#[test]
fn several_containers_evaluate_at_once() {
    let session = TestSession::new("stdout-all");
    let out = session.call_ok("pipelines", "echo-all", &["--count", "3"]);
    assert_eq!(out, "[ok(\"1\\n\"), ok(\"2\\n\"), ok(\"3\\n\")]\n");
}

#[test]
fn hello_echo_runs_a_container() {
    let session = TestSession::new("hello-echo");
    assert_eq!(
        session.call_ok("hello", "echo", &["--msg", "from a container"]),
        "from a container\n"
    );
}

#[test]
fn a_step_container_removed_from_outside_is_a_clear_error() {
    let session = TestSession::uncached("step-removed");
    let child = session.spawn_call(
        "pipelines",
        "run-in",
        &[
            "--base",
            "busybox",
            "--args",
            "sleep",
            "--args",
            &format!("60.{}", std::process::id()),
        ],
    );
    let step = session.wait_for_kind("step");
    common::docker(&["rm", "-f", &step]);
    let output = child.wait_with_output().unwrap();
    common::assert_clear_failure(&output, "was removed from outside berth");
}

#[test]
fn output_past_16_mib_is_cut_and_says_so() {
    let session = TestSession::new("big-output");
    let script = format!("head -c 20000000 /dev/zero | tr '\\0' a; echo {}", nonce());
    let out = session.call_ok(
        "pipelines",
        "run-in",
        &[
            "--base", "busybox", "--args", "sh", "--args", "-c", "--args", &script,
        ],
    );
    assert!(
        out.trim_end()
            .ends_with("[berth: the output passed 16 MiB; the rest is not kept]"),
        "{}",
        &out[out.len().saturating_sub(200)..]
    );
    assert!(out.len() < (16 << 20) + 200, "{} bytes", out.len());
    assert!(out.starts_with(&"a".repeat(1000)));
}
