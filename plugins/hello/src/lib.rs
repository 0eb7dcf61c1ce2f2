//! The smallest berth plugin: one pure function and one that runs a container.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:hello/hello",
    generate_all,
});

use berth::core::containers::Container;

struct Hello;

impl Guest for Hello {
    fn hello(name: String) -> String {
        format!("Hello, {name}!")
    }

    fn echo(msg: String) -> Result<String, Error> {
        Container::new("busybox")
            .with_exec(&["echo".to_string(), msg])
            .stdout()
    }
}

export!(Hello);
