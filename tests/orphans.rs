//! What a berth process killed with SIGKILL leaves behind is reaped.

mod common;

use std::io::{BufRead, BufReader};

use common::{TestSession, nonce};

/// Kills a long call in `session` with SIGKILL once its client step runs.
fn kill_a_long_call(session: &TestSession) {
    kill(session.start_long_call(), session);
}

/// Kills `child` with SIGKILL, and checks that it left containers behind.
fn kill(mut child: std::process::Child, session: &TestSession) {
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !session.leftovers().is_empty(),
        "SIGKILL left the containers running"
    );
}

/// `berth gc` leaves nothing of `session`.
fn gc_cleans(session: &TestSession) {
    let output = session.run(&["gc"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(session.leftovers().is_empty(), "{:?}", session.leftovers());
}

#[test]
fn gc_removes_what_a_call_killed_during_up_left() {
    let session = TestSession::uncached("kill-during-up");
    let mut child = session.spawn_call(
        "service-probes",
        "big-file-service",
        &["--tag", &nonce(), "--megabytes", "1", "up", "--random"],
    );
    // `up` prints each tunnel once the service is healthy and the tunnels listen.
    let mut tunnel = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut tunnel)
        .unwrap();
    assert!(tunnel.starts_with("http://127.0.0.1:"), "{tunnel}");
    kill(child, &session);
    gc_cleans(&session);
}

#[test]
fn gc_removes_what_a_call_killed_during_a_health_wait_left() {
    let session = TestSession::uncached("kill-during-health");
    let child = session.spawn_call(
        "service-probes",
        "never-listens",
        &["--tag", &nonce(), "--timeout-ms", "60000"],
    );
    session.wait_for_kind("service");
    kill(child, &session);
    gc_cleans(&session);
}

#[test]
fn gc_removes_what_a_killed_call_left() {
    let session = TestSession::uncached("gc-after-kill");
    kill_a_long_call(&session);
    gc_cleans(&session);
}

#[test]
fn the_next_run_removes_what_a_killed_call_left() {
    let killed = TestSession::uncached("killed");
    kill_a_long_call(&killed);
    let next = TestSession::new("next-run");
    next.call_ok("hello", "echo", &["--msg", &nonce()]);
    assert!(killed.leftovers().is_empty(), "{:?}", killed.leftovers());
}

#[test]
fn gc_all_removes_the_exec_cache() {
    let session = TestSession::uncached("gc-all");
    let text = format!("gc-{}", nonce());
    session.call_ok("pipelines", "echo-file", &["--text", &text]);
    assert_eq!(session.images().len(), 1, "a snapshot was kept");
    let output = session.run(&["gc", "--all"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(session.images().is_empty(), "the snapshot is gone");
    session.call_ok("pipelines", "echo-file", &["--text", &text]);
    assert_eq!(session.created_of_kind("step"), 2, "the step ran again");
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// An untagged snapshot image as a berth process killed between its commit
/// and its exec-cache record leaves it.
fn leave_an_untagged_snapshot(session: &TestSession) -> String {
    let container = common::docker(&["create", "berth.local/busybox:latest", "true"]);
    let container = container.trim();
    let labels = format!(
        "LABEL berth.managed=true berth.kind=snapshot berth.session={} berth.pid={}",
        session.id,
        dead_pid()
    );
    let image = common::docker(&["commit", "--change", &labels, container]);
    common::docker(&["rm", container]);
    image.trim().to_string()
}

#[test]
fn gc_removes_untagged_snapshots_of_dead_processes_and_keeps_cached_ones() {
    let session = TestSession::uncached("gc-images");
    session.call_ok("pipelines", "echo-file", &["--text", &nonce()]);
    let cached = session.images();
    assert_eq!(cached.len(), 1, "the exec cache kept a snapshot");
    let orphan = leave_an_untagged_snapshot(&session);
    let output = session.run(&["gc"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let left = session.images();
    assert!(
        !left.iter().any(|image| orphan.contains(image.as_str())),
        "the orphan snapshot is gone: {left:?}"
    );
    assert_eq!(left, cached, "the cached snapshot stays");
}

/// The children of process `pid`.
fn children(pid: u32) -> Vec<u32> {
    let output = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Waits (ten seconds at most) for the one child of `pid`.
fn only_child(pid: u32) -> u32 {
    let started = std::time::Instant::now();
    loop {
        if let [child] = children(pid)[..] {
            return child;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no child of {pid}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A pid that no process of this pid namespace has.
fn unused_pid() -> u32 {
    (20_000..32_000)
        .rev()
        .find(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .unwrap()
}

#[test]
fn a_berth_of_another_pid_namespace_is_reaped_only_from_its_own() {
    let session = TestSession::uncached("pid-namespace");
    // Its pid there is one no process here has, so a reaper that looked up
    // pids here would take it for dead.
    let pid = unused_pid();
    let berth = env!("CARGO_BIN_EXE_berth");
    let plugin = common::plugin("service-probes");
    let script = format!(
        "echo {} > /proc/sys/kernel/ns_last_pid; {berth} call {} long-client --tag {} --seconds 120; sleep 600",
        pid - 1,
        plugin.display(),
        nonce()
    );
    let mut unshare = session
        .wrapped(
            "unshare",
            &["--pid", "--fork", "--mount-proc", "sh", "-c", &script],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let step = session.wait_for_kind("step");
    let labelled = common::docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"berth.pid\"}}",
        &step,
    ]);
    assert_eq!(
        labelled.trim(),
        pid.to_string(),
        "berth runs as pid {pid} in its namespace"
    );
    let shell = only_child(unshare.id());
    let namespaced_berth = only_child(shell);

    // Another namespace's run and gc leave a living berth alone.
    TestSession::new("pid-namespace-other").call_ok("hello", "echo", &["--msg", &nonce()]);
    let gc = TestSession::new("pid-namespace-gc").run(&["gc"]);
    assert!(gc.status.success(), "{}", common::stderr(&gc));
    let running = common::docker(&["ps", "-q", "--no-trunc", "--filter", &format!("id={step}")]);
    assert!(
        !running.trim().is_empty(),
        "the living berth's step still runs"
    );

    // Killed, it cannot be judged from here, and is left to its own namespace.
    std::process::Command::new("kill")
        .args(["-9", &namespaced_berth.to_string()])
        .status()
        .unwrap();
    let gc = TestSession::new("pid-namespace-gc").run(&["gc"]);
    assert!(gc.status.success(), "{}", common::stderr(&gc));
    assert!(
        !session.leftovers().is_empty(),
        "another namespace's leftovers stay"
    );
    let target = shell.to_string();
    let own = session
        .wrapped(
            "nsenter",
            &["--target", &target, "--pid", "--mount", berth, "gc"],
        )
        .output()
        .unwrap();
    assert!(own.status.success(), "{}", common::stderr(&own));
    assert!(session.leftovers().is_empty(), "{:?}", session.leftovers());
    let _ = unshare.kill();
    let _ = std::process::Command::new("kill")
        .args(["-9", &shell.to_string()])
        .status();
    let _ = unshare.wait();
}
