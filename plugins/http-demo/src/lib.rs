//! Dagger's documented service example, and clients for it.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:http-demo/http-demo",
    generate_all,
});

use berth::core::containers::{Container, stdout_all};
use berth::core::types::Protocol;

struct HttpDemo;

fn client(svc: &Service, path: &str) -> Container {
    let port = svc.ports().first().map(|p| p.number).unwrap_or(80);
    Container::new("busybox")
        .with_service_binding("www", svc)
        .with_exec(&[
            "wget".to_string(),
            "-qO-".to_string(),
            format!("http://www:{port}{path}"),
        ])
}

impl Guest for HttpDemo {
    fn http_service() -> Service {
        Container::new("python:3.11-slim")
            .with_new_file("/srv/index.html", b"Hello, world!", None)
            .with_workdir("/srv")
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&["python3", "-m", "http.server", "8080"].map(String::from))
            .as_service(None)
    }

    fn fetch(svc: &Service, path: String) -> Result<String, Error> {
        client(svc, &path).stdout()
    }

    fn fetch_many(clients: u32) -> Result<Vec<String>, Error> {
        let svc = Self::http_service();
        // Each client asks for a different query so none is an exec-cache copy of another.
        let containers: Vec<Container> = (0..clients)
            .map(|n| client(&svc, &format!("/?client={n}")))
            .collect();
        let borrowed: Vec<&Container> = containers.iter().collect();
        stdout_all(&borrowed).into_iter().collect()
    }
}

export!(HttpDemo);
