//! Engine faults injected for real: a proxy in front of the engine answers
//! chosen requests with errors, or never, and berth must cope or explain.

mod common;

use std::time::{Duration, Instant};

use common::engine_proxy::{EngineProxy, Fault, Misbehaviour};
use common::{TestSession, assert_clear_failure, nonce, plugin, root};

/// `berth call hello echo --msg MSG` in `session` through `proxy`, with
/// `engine_settings` added to the repository's berth.toml.
fn echo_through(
    session: &TestSession,
    proxy: &EngineProxy,
    engine_settings: &str,
    msg: &str,
) -> std::process::Output {
    call_through(
        session,
        proxy,
        engine_settings,
        "hello",
        &["echo", "--msg", msg],
    )
}

/// `berth call PLUGIN ARGS` in `session` through `proxy`, with
/// `engine_settings` added to the repository's berth.toml.
fn call_through(
    session: &TestSession,
    proxy: &EngineProxy,
    engine_settings: &str,
    plugin_name: &str,
    args: &[&str],
) -> std::process::Output {
    let config = tempfile::NamedTempFile::new().unwrap();
    let base = std::fs::read_to_string(root().join("berth.toml")).unwrap();
    std::fs::write(
        config.path(),
        format!("{base}\n[engine]\n{engine_settings}\n"),
    )
    .unwrap();
    session
        .berth()
        .env("DOCKER_HOST", proxy.docker_host())
        .args(["--config", config.path().to_str().unwrap(), "call"])
        .arg(plugin(plugin_name))
        .args(args)
        .output()
        .unwrap()
}

fn fault(
    method: &'static str,
    path: &'static str,
    misbehaviour: Misbehaviour,
    times: usize,
) -> Fault {
    Fault {
        method,
        path,
        misbehaviour,
        times,
    }
}

#[test]
fn transient_500_answers_are_retried() {
    let session = TestSession::uncached("retry-500");
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/containers/create",
        Misbehaviour::Answer(500, "injected: driver failed programming the network"),
        2,
    )]);
    let msg = nonce();
    let output = echo_through(&session, &proxy, "", &msg);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), msg);
    assert_eq!(
        proxy.fired(0),
        2,
        "both failures were answered, then it worked"
    );
}

#[test]
fn a_transient_409_answer_is_retried() {
    let session = TestSession::uncached("retry-409");
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/start",
        Misbehaviour::Answer(
            409,
            "injected: removal of the previous container is in progress",
        ),
        1,
    )]);
    let msg = nonce();
    let output = echo_through(&session, &proxy, "", &msg);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), msg);
    assert_eq!(proxy.fired(0), 1);
}

#[test]
fn a_failure_that_persists_is_retried_a_bounded_number_of_times() {
    let session = TestSession::uncached("retry-bounded");
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/containers/create",
        Misbehaviour::Answer(500, "injected: the engine is broken"),
        usize::MAX,
    )]);
    let output = echo_through(&session, &proxy, "", &nonce());
    assert_clear_failure(
        &output,
        "the engine answered 500: injected: the engine is broken",
    );
    assert_eq!(proxy.fired(0), 4, "sent four times, then given up");
}

#[test]
fn a_refusal_that_repeats_is_not_retried() {
    let session = TestSession::uncached("no-retry");
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/containers/create",
        Misbehaviour::Answer(409, "injected: the container name is already in use"),
        usize::MAX,
    )]);
    let output = echo_through(&session, &proxy, "", &nonce());
    assert_clear_failure(&output, "the engine answered 409");
    assert_eq!(proxy.fired(0), 1);
}

#[test]
fn an_engine_that_stops_answering_is_a_timeout_and_leaves_nothing() {
    let session = TestSession::uncached("engine-hangs");
    // Everything works until the step's start, which is never answered.
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/start",
        Misbehaviour::Hang,
        usize::MAX,
    )]);
    let started = Instant::now();
    let output = echo_through(&session, &proxy, "timeout = \"2s\"", &nonce());
    assert_clear_failure(&output, "did not answer within 2s while starting echo");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // The session guard asserts that the created step container is gone.
}

#[test]
fn an_engine_that_never_answers_fails_within_seconds() {
    let session = TestSession::uncached("engine-silent");
    let proxy = EngineProxy::start(vec![fault("", "", Misbehaviour::Hang, usize::MAX)]);
    let started = Instant::now();
    let output = echo_through(&session, &proxy, "", &nonce());
    assert_clear_failure(&output, "did not answer within 2s while connecting");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// Takes the gateway out of every IPAM configuration of a network answer
/// (one network, or a list), as a first-start dockerd answers for its bridge.
fn without_gateways(answer: &mut serde_json::Value) {
    let networks = match answer {
        serde_json::Value::Array(networks) => networks.iter_mut().collect(),
        network => vec![network],
    };
    for network in networks {
        if let Some(configs) = network
            .pointer_mut("/IPAM/Config")
            .and_then(|c| c.as_array_mut())
        {
            for config in configs {
                if let Some(config) = config.as_object_mut() {
                    config.remove("Gateway");
                }
            }
        }
    }
}

#[test]
fn a_host_service_and_its_client_work_when_no_network_states_a_gateway() {
    let session = TestSession::uncached("no-gateway");
    let proxy = EngineProxy::start(vec![fault(
        "GET",
        "/networks",
        Misbehaviour::Rewrite(without_gateways),
        usize::MAX,
    )]);
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // Answers every connection (berth's health probe, then the client);
    // it ends with the test process.
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in server.incoming().map_while(Result::ok) {
            let mut request = [0u8; 1024];
            if stream.read(&mut request).is_ok_and(|n| n > 0) {
                let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nno gateway needed");
            }
        }
    });
    let output = session
        .berth()
        .env("DOCKER_HOST", proxy.docker_host())
        .args([
            "call",
            plugin("http-demo").to_str().unwrap(),
            "fetch",
            "--svc",
            &format!("tcp://localhost:{port}"),
            "--path",
            "/",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "no gateway needed\n"
    );
    assert!(
        proxy.fired(0) > 0,
        "the network answers went through the rewrite"
    );
}

#[test]
fn an_engine_without_exec_fails_a_relayed_service_at_once_saying_so() {
    let session = TestSession::uncached("no-exec");
    // An engine whose API has no exec answers its routes as unknown.
    let proxy = EngineProxy::start(vec![fault(
        "POST",
        "/exec",
        Misbehaviour::Answer(404, "page not found"),
        usize::MAX,
    )]);
    let started = Instant::now();
    let output = call_through(
        &session,
        &proxy,
        "reach = \"relay\"",
        "http-demo",
        &["fetch-many", "--clients", "1"],
    );
    assert_clear_failure(&output, "does not run commands in containers (exec)");
    // The health timeout is 60 s: asking again cannot help, so berth does not.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it failed at once, not at the health timeout: {:?}",
        started.elapsed()
    );
    assert!(proxy.fired(0) > 0, "the exec requests were refused");
    assert_eq!(session.created_of_kind("step"), 0, "no client ran");
    assert!(session.leftovers().is_empty(), "{:?}", session.leftovers());
}
