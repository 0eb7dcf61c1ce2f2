//! Services: the reference examples, dedup, health, dependency order, lifetime.

mod common;

use std::time::{Duration, Instant};

use berth::policy::Policy;
use berth::spec::{ContainerSpec, ExposedPort, Op, Protocol, ServiceSpec};
use common::{TestSession, assert_clear_failure, nonce, root, stderr};

#[test]
fn the_python_http_service_answers_hello_world_inside_containers() {
    let session = TestSession::uncached("http-reference");
    let out = session.call_ok("http-demo", "fetch-many", &["--clients", "1"]);
    assert_eq!(out, "[\"Hello, world!\"]\n");
}

#[test]
fn the_mariadb_client_lists_the_user_table() {
    let session = TestSession::uncached("mariadb-reference");
    let out = session.call_ok("mariadb-demo", "user-list-local", &[]);
    assert!(out.starts_with("Host\tUser\n"), "{out}");
    assert!(out.contains("%\tberth\n"), "{out}");
    assert!(out.contains("localhost\troot\n"), "{out}");
}

#[test]
fn twenty_clients_of_one_service_start_one_service_container() {
    let session = TestSession::uncached("dedup");
    let out = session.call_ok("http-demo", "fetch-many", &["--clients", "20"]);
    assert_eq!(out.matches("Hello, world!").count(), 20, "{out}");
    assert_eq!(session.created_of_kind("service"), 1);
    assert_eq!(session.created_of_kind("step"), 20);
}

#[test]
fn service_hostnames_are_stable_across_processes() {
    let session = TestSession::new("hostname-stable");
    let first = session.call_ok("http-demo", "http-service", &[]);
    let second = session.call_ok("http-demo", "http-service", &[]);
    assert_eq!(first, second);
    let hostname = first
        .trim()
        .strip_prefix("service ")
        .expect("service <hostname>");
    assert!(
        hostname.len() <= 63
            && hostname
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{hostname}"
    );
}

#[test]
fn clients_of_a_late_listener_never_see_connection_refused() {
    let session = TestSession::uncached("late-listener");
    let out = session.call_ok(
        "service-probes",
        "late-listener",
        &["--tag", &nonce(), "--delay", "2", "--clients", "3"],
    );
    assert_eq!(out, "[\"late\", \"late\", \"late\"]\n");
}

#[test]
fn a_service_that_exits_at_once_is_service_exited_with_code_and_logs() {
    let session = TestSession::uncached("exits-at-once");
    let tag = nonce();
    let output = session.call("service-probes", "exits-at-once", &["--tag", &tag]);
    assert_clear_failure(&output, "service-exited");
    let stderr = stderr(&output);
    assert!(stderr.contains("exited with code 3"), "{stderr}");
    assert!(
        stderr.contains(&format!("boom-{tag}")),
        "the log tail is in the error:\n{stderr}"
    );
    assert_eq!(
        session.created_of_kind("step"),
        0,
        "the client never started"
    );
}

#[test]
fn a_service_that_never_listens_times_out_naming_the_probe() {
    let session = TestSession::uncached("never-listens");
    let started = Instant::now();
    let output = session.call(
        "service-probes",
        "never-listens",
        &["--tag", &nonce(), "--timeout-ms", "1500"],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_clear_failure(&output, "timeout: service");
    assert_clear_failure(&output, "not healthy within 1.5s: tcp connect to port 8080");
}

#[test]
fn a_failed_start_is_not_remembered() {
    let session = TestSession::uncached("retry");
    let out = session.call_ok(
        "service-probes",
        "retry-after-failure",
        &["--tag", &nonce()],
    );
    assert_eq!(out, "[\"ErrorKind::Timeout\", \"ErrorKind::Timeout\"]\n");
    assert_eq!(
        session.created_of_kind("service"),
        2,
        "the second client started it again"
    );
}

#[test]
fn a_client_reaches_a_service_by_its_hostname() {
    let session = TestSession::uncached("by-hostname");
    assert_eq!(
        session.call_ok("service-probes", "by-hostname", &["--tag", &nonce()]),
        "by name\n"
    );
}

#[test]
fn services_that_bind_services_start_in_dependency_order() {
    let session = TestSession::uncached("chain");
    assert_eq!(
        session.call_ok("service-probes", "chain", &["--tag", &nonce()]),
        "c+b+a\n"
    );
    assert_eq!(session.created_of_kind("service"), 3);
}

#[test]
fn http_exec_and_log_line_probes_gate_the_clients() {
    let session = TestSession::uncached("probes");
    for probe in ["http", "exec", "log-line"] {
        let out = session.call_ok(
            "service-probes",
            "probe",
            &["--tag", &nonce(), "--probe", probe],
        );
        assert_eq!(out, "probed\n", "probe {probe}");
    }
}

#[test]
fn a_wrong_answer_is_unhealthy_naming_the_probe() {
    let session = TestSession::uncached("unhealthy");
    let output = session.call(
        "service-probes",
        "probe",
        &["--tag", &nonce(), "--probe", "http-wrong-status"],
    );
    assert_clear_failure(&output, "unhealthy: service");
    assert_clear_failure(&output, "http GET :8080/ expecting 418: GET / answered 200");
    let output = session.call(
        "service-probes",
        "probe",
        &["--tag", &nonce(), "--probe", "exec-failing"],
    );
    assert_clear_failure(&output, "exec `false`: exited with code 1");
}

#[test]
fn a_probe_that_hangs_ends_at_the_health_timeout() {
    let session = TestSession::uncached("probe-hangs");
    let started = Instant::now();
    let output = session.call(
        "service-probes",
        "probe",
        &["--tag", &nonce(), "--probe", "exec-hangs"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_clear_failure(
        &output,
        "exec `sleep 600`: the probe did not finish in time",
    );
}

#[test]
fn service_methods_start_inspect_log_and_stop() {
    let session = TestSession::uncached("lifecycle");
    let tag = nonce();
    let out = session.call_ok("service-probes", "lifecycle", &["--tag", &tag]);
    let hostname = out.split('"').nth(1).expect("a hostname");
    assert!(
        out.contains(&format!("\"http://{hostname}:8080\"")),
        "{out}"
    );
    assert!(out.contains("\"8080\", \"life\""), "{out}");
    assert!(out.contains(&format!("started-{tag}")), "logs: {out}");
    assert!(
        out.ends_with("\"ErrorKind::InvalidArgument\"]\n"),
        "logs after stop fail: {out}"
    );
}

#[test]
fn two_clients_may_bind_different_services_under_one_alias() {
    let session = TestSession::uncached("same-alias");
    assert_eq!(
        session.call_ok("service-probes", "same-alias", &["--tag", &nonce()]),
        "[\"one\", \"two\"]\n"
    );
}

#[test]
fn a_service_stops_after_its_grace_period_and_starts_again() {
    let session = TestSession::uncached("grace");
    let config = common::root().join(format!("target/test-inputs/grace-{}.toml", nonce()));
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let base = std::fs::read_to_string(common::root().join("berth.toml")).unwrap();
    std::fs::write(&config, format!("{base}\n[services]\ngrace = \"500ms\"\n")).unwrap();
    let plugin = common::plugin("service-probes");
    let tag = nonce();
    let output = session.run(&[
        "--config",
        config.to_str().unwrap(),
        "call",
        plugin.to_str().unwrap(),
        "two-clients",
        "--tag",
        &tag,
        "--wait",
        "3",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        session.created_of_kind("service"),
        2,
        "stopped after 500ms, started again"
    );
}

#[test]
fn a_service_within_its_grace_period_is_reused() {
    let session = TestSession::uncached("grace-reuse");
    session.call_ok(
        "service-probes",
        "two-clients",
        &["--tag", &nonce(), "--wait", "1"],
    );
    assert_eq!(
        session.created_of_kind("service"),
        1,
        "the default grace is 10s"
    );
}

#[test]
fn a_client_whose_service_dies_fails_naming_it() {
    let session = TestSession::uncached("service-dies");
    let output = session.call("service-probes", "service-dies", &["--tag", &nonce()]);
    assert_clear_failure(&output, "service-exited: service");
    assert_clear_failure(&output, "exited with code 7");
}

fn interrupt_a_long_call(signal: &str) {
    let session = TestSession::uncached(&format!("signal-{signal}"));
    // Once the client step runs, a service and a client container exist.
    let mut child = session.start_long_call();
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "teardown took {:?}",
        signalled.elapsed()
    );
    assert!(!status.success());
    // The session guard asserts that nothing of the session is left.
}

#[test]
fn sigint_during_a_long_call_removes_everything() {
    interrupt_a_long_call("INT");
}

#[test]
fn sigterm_during_a_long_call_removes_everything() {
    interrupt_a_long_call("TERM");
}

#[test]
fn clients_waiting_on_a_crashing_service_share_its_failure() {
    let session = TestSession::uncached("crash-loop");
    let out = session.call_ok(
        "service-probes",
        "crashing-service-clients",
        &["--tag", &nonce(), "--clients", "8"],
    );
    assert_eq!(
        out,
        format!("[{}]\n", ["\"ErrorKind::ServiceExited\""; 8].join(", "))
    );
    assert_eq!(
        session.created_of_kind("service"),
        1,
        "one start failed, and the clients waiting on it were told, not restarted"
    );
}

/// A long client runs while its service is `action`ed through the engine
/// (`kill`, `stop`, `rm -f`); the client fails, naming the service.
fn service_removed_from_outside(action: &[&str]) {
    let session = TestSession::uncached(&format!("outside-{}", action[0]));
    let child = session.spawn_call(
        "service-probes",
        "long-client",
        &["--tag", &nonce(), "--seconds", "120"],
    );
    session.wait_for_kind("step");
    let service = session.wait_for_kind("service");
    let mut args = action.to_vec();
    args.push(&service);
    common::docker(&args);
    let output = child.wait_with_output().unwrap();
    assert_clear_failure(&output, "service-exited: service ");
}

#[test]
fn a_service_killed_from_outside_fails_its_client() {
    service_removed_from_outside(&["kill"]);
}

#[test]
fn a_service_stopped_from_outside_fails_its_client() {
    service_removed_from_outside(&["stop", "-t", "1"]);
}

#[test]
fn a_service_removed_from_outside_fails_its_client() {
    service_removed_from_outside(&["rm", "-f"]);
}

#[test]
fn verbose_calls_stream_service_logs_prefixed_with_the_hostname() {
    let session = TestSession::uncached("verbose-logs");
    let plugin = common::plugin("service-probes");
    let tag = nonce();
    let output = session.run(&[
        "-v",
        "call",
        plugin.to_str().unwrap(),
        "probe",
        "--tag",
        &tag,
        "--probe",
        "log-line",
    ]);
    let stderr = common::stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let streamed = stderr.lines().any(|line| {
        line.strip_suffix("] ready to serve")
            .and_then(|rest| rest.strip_prefix('['))
            .is_some_and(|hostname| {
                hostname.len() == 26
                    && hostname
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
            })
    });
    assert!(
        streamed,
        "the service's log line, prefixed with its hostname:\n{stderr}"
    );
}

/// A busybox httpd service; `variant` makes its digest its own.
fn httpd(variant: &str, command: &[&str]) -> ServiceSpec {
    let container = ContainerSpec::new("busybox")
        .with(Op::EnvVariable {
            name: "VARIANT".into(),
            value: variant.into(),
        })
        .with(Op::ExposedPort(ExposedPort {
            number: 80,
            protocol: Protocol::Tcp,
            description: None,
        }))
        .with(Op::Exec(command.iter().map(|a| a.to_string()).collect()));
    ServiceSpec::Container {
        container,
        args: None,
    }
}

#[test]
fn a_long_lived_manager_keeps_no_slot_for_services_it_no_longer_runs() {
    let guard = TestSession::new("services-forget");
    let mut policy = Policy::load(Some(&root().join("berth.toml"))).expect("berth.toml");
    policy.services.grace = Duration::ZERO;
    let cache = tempfile::tempdir().unwrap();
    let services = common::in_process_services(&guard, &policy, cache.path().join("exec"));
    let tag = nonce();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let serving = ["httpd", "-f", "-p", "80"];
        let specs: Vec<ServiceSpec> = (0..3)
            .map(|n| httpd(&format!("{tag}-{n}"), &serving))
            .collect();
        let leases =
            futures_util::future::join_all(specs.iter().map(|spec| services.acquire(spec))).await;
        let failing = services
            .acquire(&httpd(&tag, &["sh", "-c", "exit 3"]))
            .await;
        assert!(failing.is_err(), "a service that exits does not start");
        assert_eq!(
            services.services_known(),
            3,
            "the failed start keeps no slot"
        );
        drop(
            leases
                .into_iter()
                .map(|lease| lease.expect("httpd starts"))
                .collect::<Vec<_>>(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while services.services_known() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            services.services_known(),
            0,
            "stopped services keep no slot"
        );
        let session = services.evaluator().session();
        session.end().await.expect("session end");
    });
    assert_eq!(guard.created_of_kind("service"), 4);
}
