//! Both directions across the host boundary: `up` tunnels and host services.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestSession, assert_clear_failure, nonce, stderr};

/// A `berth call ... up` running in the background.
struct Up {
    child: Child,
    /// `(host address, service port)` of each tunnel line.
    tunnels: Vec<(String, u16)>,
    hostname: String,
}

impl Up {
    fn start(session: &TestSession, plugin: &str, args: &[&str]) -> Up {
        let plugin = common::plugin(plugin);
        // To a file, not a pipe nobody reads: shown when no tunnel comes up.
        let errors = common::root().join(format!("target/test-inputs/up-{}.stderr", nonce()));
        std::fs::create_dir_all(errors.parent().unwrap()).unwrap();
        let mut child = session
            .berth()
            .arg("call")
            .arg(&plugin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut tunnels = Vec::new();
        let mut hostname = String::new();
        // One line per tunnel: `http://127.0.0.1:8080 -> <hostname>:8080`; then it serves.
        let lines = BufReader::new(stdout).lines();
        for line in lines {
            let line = line.unwrap();
            let (front, back) = line.split_once(" -> ").expect("a tunnel line");
            let address = front.split_once("://").unwrap().1.to_string();
            let (host, port) = back.rsplit_once(':').unwrap();
            hostname = host.to_string();
            tunnels.push((address, port.parse().unwrap()));
            if tunnels.len() == expected_tunnels(args) {
                break;
            }
        }
        let shown = std::fs::read_to_string(&errors).unwrap_or_default();
        let _ = std::fs::remove_file(&errors);
        assert_eq!(
            tunnels.len(),
            expected_tunnels(args),
            "berth call {args:?} ended before its tunnels listened:\n{shown}"
        );
        Up {
            child,
            tunnels,
            hostname,
        }
    }

    /// Sends a signal and expects a clean exit with status 0.
    fn stop(mut self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        let started = Instant::now();
        let status = self.child.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(status.success(), "up exits 0 on {signal}: {status}");
        for (address, _) in &self.tunnels {
            assert!(
                TcpStream::connect(address).is_err(),
                "{address} still listens"
            );
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // A test that failed half-way must not leave `up` serving.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn expected_tunnels(args: &[&str]) -> usize {
    args.iter().filter(|a| **a == "--ports").count().max(1)
}

/// GET `path` over HTTP/1.0 and return the body.
fn http_get(address: &str, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer")
        + 4;
    response.split_off(split)
}

fn sha256(bytes: &[u8]) -> String {
    let path = common::root().join(format!("target/test-inputs/sha-{}", nonce()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("sha256sum").arg(&path).output().unwrap();
    std::fs::remove_file(&path).unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A python http.server on 127.0.0.1 only, serving `dir`.
struct HostServer {
    child: Child,
    port: u16,
}

impl HostServer {
    /// Serves on 127.0.0.1 only.
    fn serve(dir: &std::path::Path) -> HostServer {
        HostServer::serve_on(dir, "127.0.0.1")
    }

    fn serve_on(dir: &std::path::Path, bind: &str) -> HostServer {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", bind])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the host server never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        HostServer { child, port }
    }
}

impl Drop for HostServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn host_dir(files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = common::root().join(format!("target/test-inputs/www-{}", nonce()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

#[test]
fn up_serves_the_python_example_verbatim() {
    let _port = common::fixed_host_ports();
    let session = TestSession::uncached("up-verbatim");
    let up = Up::start(
        &session,
        "http-demo",
        &["http-service", "up", "--ports", "8080:8080"],
    );
    assert_eq!(up.tunnels[0].0, "127.0.0.1:8080");
    // Another process needs a session of its own: ending a session removes all it labelled.
    let hostname = TestSession::new("up-verbatim-hostname").call_ok(
        "http-demo",
        "http-service",
        &["hostname"],
    );
    assert_eq!(
        up.hostname,
        hostname.trim(),
        "the line names the service's hostname"
    );
    let curl = Command::new("curl")
        .args(["-s", "localhost:8080"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "Hello, world!");
    up.stop("INT");
}

#[test]
fn up_answers_100_parallel_requests() {
    let session = TestSession::uncached("up-parallel");
    let up = Up::start(
        &session,
        "service-probes",
        &["wide-web", "--tag", &nonce(), "up", "--random"],
    );
    let address = up.tunnels[0].0.clone();
    let answers: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..100)
            .map(|_| scope.spawn(|| http_get(&address, "/")))
            .collect();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|a| a == b"Hello, world!"));
    up.stop("TERM");
}

#[test]
fn fifty_megabytes_through_up_arrive_intact() {
    let session = TestSession::uncached("up-50mb");
    let tag = nonce();
    let up = Up::start(
        &session,
        "service-probes",
        &[
            "big-file-service",
            "--tag",
            &tag,
            "--megabytes",
            "50",
            "up",
            "--random",
        ],
    );
    let address = up.tunnels[0].0.clone();
    let big = http_get(&address, "/big");
    assert_eq!(big.len(), 50 << 20);
    let expected = String::from_utf8(http_get(&address, "/big.sha256")).unwrap();
    assert_eq!(sha256(&big), expected.trim());
    up.stop("INT");
}

#[test]
fn up_on_a_returned_container_serves_its_exposed_port() {
    let session = TestSession::uncached("up-container");
    let up = Up::start(
        &session,
        "service-probes",
        &["web-container", "--tag", &nonce(), "up", "--random"],
    );
    assert_eq!(up.tunnels[0].1, 8080);
    assert_eq!(http_get(&up.tunnels[0].0, "/"), b"container up");
    up.stop("INT");
}

#[test]
fn a_host_port_in_use_is_named_and_nothing_starts() {
    let _port = common::fixed_host_ports();
    let session = TestSession::uncached("up-port-taken");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mapping = format!("{port}:8080");
    let output = session.call(
        "http-demo",
        "http-service",
        &["up", "--ports", "8081:8080", "--ports", &mapping],
    );
    assert_clear_failure(&output, &format!("127.0.0.1:{port} is already in use"));
    assert_eq!(session.created_of_kind("service"), 0);
    assert!(
        TcpStream::connect("127.0.0.1:8081").is_err(),
        "no partial tunnel is left"
    );
}

#[test]
fn a_port_out_of_range_is_refused() {
    let session = TestSession::new("up-port-range");
    let output = session.call(
        "http-demo",
        "http-service",
        &["up", "--ports", "70000:8080"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("port 70000 is out of range"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn hostname_and_endpoint_chain_after_a_service() {
    let session = TestSession::new("chained-verbs");
    let service = session.call_ok("http-demo", "http-service", &[]);
    // Another process needs a session of its own: ending a session removes all it labelled.
    let hostname = TestSession::new("up-verbatim-hostname").call_ok(
        "http-demo",
        "http-service",
        &["hostname"],
    );
    assert_eq!(service, format!("service {hostname}"));
    let endpoint = session.call_ok(
        "http-demo",
        "http-service",
        &["endpoint", "--scheme", "http"],
    );
    assert_eq!(endpoint, format!("http://{}:8080\n", hostname.trim()));
}

#[test]
fn a_container_reaches_a_host_server_on_loopback() {
    let session = TestSession::uncached("host-service");
    let dir = host_dir(&[("index.html", b"from the host")]);
    let server = HostServer::serve(&dir);
    let address = format!("tcp://localhost:{}", server.port);
    let out = session.call_ok("http-demo", "fetch", &["--svc", &address, "--path", "/"]);
    assert_eq!(out, "from the host\n");
}

#[test]
fn a_container_reaches_a_host_server_on_all_addresses() {
    let session = TestSession::uncached("host-service-any");
    let server = HostServer::serve_on(&host_dir(&[("index.html", b"from everywhere")]), "0.0.0.0");
    let address = format!("tcp://localhost:{}", server.port);
    let out = session.call_ok("http-demo", "fetch", &["--svc", &address, "--path", "/"]);
    assert_eq!(out, "from everywhere\n");
}

#[test]
fn host_service_from_a_function_answers_under_alias_and_hostname() {
    let session = TestSession::uncached("host-service-wit");
    let server = HostServer::serve(&host_dir(&[("who", b"host")]));
    let port = server.port.to_string();
    let out = session.call_ok(
        "service-probes",
        "via-host-service",
        &["--port", &port, "--path", "/who"],
    );
    assert_eq!(out, "[\"host\", \"host\"]\n");
}

#[test]
fn a_host_service_has_several_ports() {
    let session = TestSession::uncached("host-ports");
    let one = HostServer::serve(&host_dir(&[("who", b"one")]));
    let two = HostServer::serve(&host_dir(&[("who", b"two")]));
    let address = format!("tcp://localhost:{},{}", one.port, two.port);
    let out = session.call_ok(
        "service-probes",
        "fetch-ports",
        &["--svc", &address, "--path", "/who"],
    );
    assert_eq!(out, "[\"one\", \"two\"]\n");
}

#[test]
fn fifty_megabytes_from_the_host_arrive_intact() {
    let session = TestSession::uncached("host-50mb");
    let big: Vec<u8> = (0..50u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let server = HostServer::serve(&host_dir(&[("big", &big)]));
    let address = format!("tcp://localhost:{}", server.port);
    let out = session.call_ok(
        "service-probes",
        "checksum",
        &["--svc", &address, "--path", "/big"],
    );
    assert_eq!(out.trim(), sha256(&big));
}

#[test]
fn an_unreachable_host_service_fails_its_health_check() {
    let session = TestSession::uncached("host-unreachable");
    let config = common::root().join(format!("target/test-inputs/health-{}.toml", nonce()));
    let base = std::fs::read_to_string(common::root().join("berth.toml")).unwrap();
    std::fs::write(
        &config,
        format!("{base}\n[services]\nhealth_timeout = \"1s\"\n"),
    )
    .unwrap();
    let port = free_port();
    let plugin = common::plugin("http-demo");
    let output = session.run(&[
        "--config",
        config.to_str().unwrap(),
        "call",
        plugin.to_str().unwrap(),
        "fetch",
        "--svc",
        &format!("tcp://localhost:{port}"),
        "--path",
        "/",
    ]);
    assert_clear_failure(&output, &format!("tcp connect to port {port}"));
    assert_clear_failure(&output, "timeout: service");
}

#[test]
fn a_bad_service_address_is_refused() {
    let session = TestSession::new("host-bad-address");
    let output = session.call(
        "http-demo",
        "fetch",
        &["--svc", "tcp://localhost:99999", "--path", "/"],
    );
    assert_clear_failure(&output, "port 99999 is out of range");
    let output = session.call(
        "http-demo",
        "fetch",
        &["--svc", "udp://localhost:53", "--path", "/"],
    );
    assert_clear_failure(&output, "`udp://` is not supported");
}

/// A MariaDB server published on the host's 127.0.0.1:3306, removed on drop.
///
/// It runs on the local dockerd whatever engine the test runs berth on: a
/// namespaced engine publishes in its own namespace, not on this host.
struct HostMariadb(String);

impl HostMariadb {
    fn start() -> HostMariadb {
        // --init-file runs one statement per line.
        let script = "mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && \
             printf '%s\\n' \"CREATE USER IF NOT EXISTS 'berth'@'%' IDENTIFIED BY 'berth';\" \
             \"GRANT ALL PRIVILEGES ON *.* TO 'berth'@'%';\" > /init.sql && \
             exec mariadbd --user=mysql --bind-address=0.0.0.0 --skip-name-resolve --init-file=/init.sql";
        let id = common::local_docker(&[
            "run",
            "-d",
            "--label",
            "berth.test=host-mariadb",
            "-p",
            "127.0.0.1:3306:3306",
            "berth.local/mariadb:latest",
            "sh",
            "-c",
            script,
        ]);
        assert!(
            !id.trim().is_empty(),
            "the host MariaDB did not start on 127.0.0.1:3306"
        );
        let server = HostMariadb(id.trim().to_string());
        let started = Instant::now();
        loop {
            let answer = Command::new("docker")
                .env_remove("DOCKER_HOST")
                .args([
                    "exec",
                    &server.0,
                    "mariadb",
                    "-uberth",
                    "-pberth",
                    "-h127.0.0.1",
                    "-e",
                    "SELECT 1",
                ])
                .output()
                .unwrap();
            if answer.status.success() {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "MariaDB never answered"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for HostMariadb {
    fn drop(&mut self) {
        common::local_docker(&["rm", "-f", &self.0]);
    }
}

#[test]
fn user_list_reads_the_host_mariadb_verbatim() {
    let session = TestSession::uncached("host-mariadb");
    let _port = common::fixed_host_ports();
    let _server = HostMariadb::start();
    let out = session.call_ok(
        "mariadb-demo",
        "user-list",
        &["--svc", "tcp://localhost:3306"],
    );
    assert!(out.starts_with("Host\tUser\n"), "{out}");
    assert!(out.contains("%\tberth\n"), "{out}");
}
