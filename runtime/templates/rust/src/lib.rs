//! The {{name}} plugin: its exports are the world in wit/world.wit.

wit_bindgen::generate!({
    path: "wit",
    world: "berth-plugins:{{name}}/{{name}}",
    generate_all,
});

use berth::core::containers::Container;

struct Plugin;

impl Guest for Plugin {
    fn greet(name: String) -> Result<String, Error> {
        Container::new("busybox")
            .with_exec(&["echo".to_string(), format!("hello, {name}")])
            .stdout()
    }
}

export!(Plugin);
