//! The greet world (plugins/greet-wit) in Rust; greet-python, greet-js and
//! greet-c are the same plugin in other languages.

wit_bindgen::generate!({
    // greet-wit/deps/berth-core links to the repository's wit/.
    path: "../greet-wit",
    world: "berth-plugins:greet/greet",
    generate_all,
});

use berth::core::containers::Container;
use berth::core::types::Protocol;

struct Greet;

impl Guest for Greet {
    fn greet(name: String) -> Result<String, Error> {
        Container::new("busybox")
            .with_exec(&["echo".to_string(), format!("hello, {name}")])
            .stdout()
    }

    fn http_service() -> Service {
        Container::new("busybox")
            .with_new_file("/www/index.html", b"hello from berth\n", None)
            .with_exposed_port(8080, Protocol::Tcp, None)
            .with_exec(&["httpd", "-f", "-p", "8080", "-h", "/www"].map(String::from))
            .as_service(None)
    }
}

export!(Greet);
