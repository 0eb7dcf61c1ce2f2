//! Services that misbehave in each way berth must handle, for berth's own tests.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:service-probes/service-probes",
    generate_all,
});

use std::time::Duration;

use berth::core::containers::stdout_all;
use berth::core::types::{ErrorKind, HttpProbe, PortForward, Probe, Protocol};

struct ServiceProbes;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// busybox httpd on 8080 serving BODY, after running SETUP (shell) first.
fn web(tag: &str, setup: &str, body: &str) -> Container {
    let script = format!("mkdir -p /www && {setup} httpd -f -p 8080 -h /www");
    Container::new("busybox")
        .with_env_variable("TAG", tag)
        .with_new_file("/www/index.html", body.as_bytes(), None)
        .with_exposed_port(8080, Protocol::Tcp, None)
        .with_exec(&strings(&["sh", "-c", &script]))
}

/// A client that binds SVC as `www` and fetches PATH from HOST:PORT.
fn fetch_port(svc: &Service, host: &str, port: u16, path: &str) -> Container {
    Container::new("busybox")
        .with_service_binding("www", svc)
        .with_exec(&strings(&[
            "wget",
            "-qO-",
            &format!("http://{host}:{port}{path}"),
        ]))
}

fn fetch(svc: &Service, alias: &str, path: &str) -> Container {
    Container::new("busybox")
        .with_service_binding(alias, svc)
        .with_exec(&strings(&[
            "wget",
            "-qO-",
            &format!("http://{alias}:8080{path}"),
        ]))
}

impl Guest for ServiceProbes {
    fn late_listener(tag: String, delay: u32, clients: u32) -> Result<Vec<String>, Error> {
        let svc = web(&tag, &format!("sleep {delay} &&"), "late").as_service(None);
        let containers: Vec<Container> = (0..clients)
            .map(|n| fetch(&svc, "www", &format!("/?{n}")))
            .collect();
        let borrowed: Vec<&Container> = containers.iter().collect();
        stdout_all(&borrowed).into_iter().collect()
    }

    fn exits_at_once(tag: String) -> Result<String, Error> {
        let svc = Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&strings(&["sh", "-c", "echo boom-$TAG >&2; exit 3"]))
            .as_service(None);
        fetch(&svc, "www", "/").stdout()
    }

    fn never_listens(tag: String, timeout_ms: u32) -> Result<String, Error> {
        let svc = Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_health_check(&[Probe::Tcp(8080)], Some(timeout_ms))
            .with_exec(&strings(&["sleep", "3600"]))
            .as_service(None);
        fetch(&svc, "www", "/").stdout()
    }

    fn chain(tag: String) -> Result<String, Error> {
        let a = web(&tag, "", "a").as_service(None);
        let relay = |name: &str, upstream: &Service| {
            let setup = format!(
                "printf '{name}+' > /www/index.html && wget -qO- http://up:8080/ >> /www/index.html &&"
            );
            web(&tag, &setup, "")
                .with_service_binding("up", upstream)
                .as_service(None)
        };
        let b = relay("b", &a);
        let c = relay("c", &b);
        fetch(&c, "www", "/").stdout()
    }

    fn probe(tag: String, probe: String) -> Result<String, Error> {
        let (probes, setup) = match probe.as_str() {
            "http" => (
                vec![Probe::Http(HttpProbe {
                    port: 8080,
                    path: "/".into(),
                    status: None,
                })],
                "",
            ),
            "http-wrong-status" => (
                vec![Probe::Http(HttpProbe {
                    port: 8080,
                    path: "/".into(),
                    status: Some(418),
                })],
                "",
            ),
            "exec" => (
                vec![Probe::Exec(strings(&["test", "-f", "/ready"]))],
                "(sleep 1; touch /ready) &",
            ),
            "exec-failing" => (vec![Probe::Exec(strings(&["false"]))], ""),
            "exec-hangs" => (vec![Probe::Exec(strings(&["sleep", "600"]))], ""),
            "log-line" => (
                vec![Probe::LogLine("ready to serve".into())],
                "(sleep 1; echo ready to serve) &",
            ),
            other => {
                return Err(Error {
                    kind: ErrorKind::InvalidArgument,
                    message: format!("no probe {other}"),
                    exit_code: None,
                    stdout: None,
                    stderr: None,
                });
            }
        };
        let svc = web(&tag, setup, "probed")
            .with_health_check(&probes, Some(3000))
            .as_service(None);
        fetch(&svc, "www", "/").stdout()
    }

    fn lifecycle(tag: String) -> Result<Vec<String>, Error> {
        let svc = web(&tag, "echo started-$TAG;", "life").as_service(None);
        svc.start()?;
        let hostname = svc.hostname()?;
        let endpoint = svc.endpoint(None, Some("http"))?;
        let ports = svc
            .ports()
            .iter()
            .map(|p| p.number.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let body = fetch(&svc, "www", "/").stdout()?;
        let logs = svc.logs(Some(10))?;
        svc.stop(false)?;
        let after_stop = match svc.logs(None) {
            Ok(_) => "still running".to_string(),
            Err(e) => format!("{:?}", e.kind),
        };
        Ok(vec![hostname, endpoint, ports, body, logs, after_stop])
    }

    fn two_clients(tag: String, wait: u32) -> Result<Vec<String>, Error> {
        let svc = web(&tag, "", "twice").as_service(None);
        let first = fetch(&svc, "www", "/?first").stdout()?;
        std::thread::sleep(Duration::from_secs(u64::from(wait)));
        let second = fetch(&svc, "www", "/?second").stdout()?;
        Ok(vec![first, second])
    }

    fn same_alias(tag: String) -> Result<Vec<String>, Error> {
        let one = web(&tag, "", "one").as_service(None);
        let two = web(&tag, "", "two").as_service(None);
        let clients = [fetch(&one, "www", "/"), fetch(&two, "www", "/")];
        stdout_all(&[&clients[0], &clients[1]])
            .into_iter()
            .collect()
    }

    fn crashing_service_clients(tag: String, clients: u32) -> Vec<String> {
        let svc = Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&strings(&["sh", "-c", "echo crash-$TAG >&2; exit 9"]))
            .as_service(None);
        let containers: Vec<Container> = (0..clients)
            .map(|n| fetch(&svc, "www", &format!("/?{n}")))
            .collect();
        let borrowed: Vec<&Container> = containers.iter().collect();
        stdout_all(&borrowed)
            .into_iter()
            .map(|result| match result {
                Ok(body) => body,
                Err(e) => format!("{:?}", e.kind),
            })
            .collect()
    }

    fn retry_after_failure(tag: String) -> Vec<String> {
        let svc = Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_health_check(&[Probe::Tcp(8080)], Some(500))
            .with_exec(&strings(&["sleep", "3600"]))
            .as_service(None);
        (0..2)
            .map(|n| match fetch(&svc, "www", &format!("/?{n}")).stdout() {
                Ok(body) => body,
                Err(e) => format!("{:?}", e.kind),
            })
            .collect()
    }

    fn by_hostname(tag: String) -> Result<String, Error> {
        let svc = web(&tag, "", "by name").as_service(None);
        let url = format!("http://{}:8080/", svc.hostname()?);
        Container::new("busybox")
            .with_service_binding("www", &svc)
            .with_exec(&strings(&["wget", "-qO-", &url]))
            .stdout()
    }

    fn big_file_service(tag: String, megabytes: u32) -> Service {
        let script = format!(
            "mkdir -p /www && head -c {} /dev/urandom > /www/big && sha256sum /www/big | cut -d' ' -f1 > /www/big.sha256",
            u64::from(megabytes) << 20
        );
        Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_exec(&strings(&["sh", "-c", &script]))
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&strings(&["httpd", "-f", "-p", "8080", "-h", "/www"]))
            .as_service(None)
    }

    fn wide_web(tag: String) -> Service {
        // `python -m http.server` listens with a backlog of 5: a burst of 100
        // connections then waits on SYN retransmits, whatever forwards them.
        let server = "import functools, http.server as h; \
                      h.ThreadingHTTPServer.request_queue_size = 256; \
                      handler = functools.partial(h.SimpleHTTPRequestHandler, directory='/srv'); \
                      h.ThreadingHTTPServer(('', 8080), handler).serve_forever()";
        Container::new("python:3.11-slim")
            .with_env_variable("TAG", &tag)
            .with_new_file("/srv/index.html", b"Hello, world!", None)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&strings(&["python3", "-c", server]))
            .as_service(None)
    }

    fn web_container(tag: String) -> Container {
        web(&tag, "", "container up")
    }

    fn checksum(svc: &Service, path: String) -> Result<String, Error> {
        let port = svc.ports().first().map(|p| p.number).unwrap_or(80);
        let script = format!("wget -qO- http://www:{port}{path} | sha256sum | cut -d' ' -f1");
        Container::new("busybox")
            .with_service_binding("www", svc)
            .with_exec(&strings(&["sh", "-c", &script]))
            .stdout()
    }

    fn fetch_ports(svc: &Service, path: String) -> Result<Vec<String>, Error> {
        svc.ports()
            .iter()
            .map(|port| {
                Container::new("busybox")
                    .with_service_binding("www", svc)
                    .with_exec(&strings(&[
                        "wget",
                        "-qO-",
                        &format!("http://www:{}{path}", port.number),
                    ]))
                    .stdout()
            })
            .collect()
    }

    fn via_host_service(port: u16, path: String) -> Result<Vec<String>, Error> {
        let forward = PortForward {
            frontend: None,
            backend: port,
            protocol: Protocol::Tcp,
        };
        let svc = berth::core::host::service(&[forward], Some("localhost"))?;
        let by_alias = fetch_port(&svc, "www", port, &path);
        let by_hostname = fetch_port(&svc, &svc.hostname()?, port, &path);
        stdout_all(&[&by_alias, &by_hostname]).into_iter().collect()
    }

    fn fetch_nth(tag: String, n: u32) -> Result<String, Error> {
        let svc = web(&tag, "", "soak").as_service(None);
        fetch(&svc, "www", &format!("/?{n}")).stdout()
    }

    fn long_client(tag: String, seconds: u32) -> Result<String, Error> {
        let svc = web(&tag, "", "long").as_service(None);
        Container::new("busybox")
            .with_service_binding("www", &svc)
            .with_exec(&strings(&["sleep", &seconds.to_string()]))
            .stdout()
    }

    fn service_dies(tag: String) -> Result<String, Error> {
        // httpd is killed 2 seconds after start; the shell then exits with 7.
        // (`; exit 7` keeps the shell from exec'ing httpd as pid 1, which ignores signals.)
        let script = "(sleep 2; killall -9 httpd) & httpd -f -p 8080 -h /www; exit 7";
        let svc = Container::new("busybox")
            .with_env_variable("TAG", &tag)
            .with_new_file("/www/index.html", b"dying", None)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&strings(&["sh", "-c", script]))
            .as_service(None);
        Container::new("busybox")
            .with_service_binding("www", &svc)
            .with_exec(&strings(&["sleep", "30"]))
            .stdout()
    }
}

export!(ServiceProbes);
