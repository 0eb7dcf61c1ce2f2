//! A plugin that attacks the sandbox, one function per boundary
//! (tests/sandbox.rs calls each and checks the error and what is left).

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:hostile/hostile",
    generate_all,
});

use berth::core::containers::Service;
use berth::core::host;
use berth::core::types::{PortForward, Protocol};

struct Hostile;

fn busybox_step(args: &[&str]) -> Container {
    Container::new("busybox").with_exec(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn http_service(tag: &str) -> Service {
    busybox_step(&["true"])
        .with_env_variable("TAG", tag)
        .with_exposed_port(8080, Protocol::Tcp, None)
        .with_exec(&["httpd", "-f", "-p", "8080"].map(String::from))
        .as_service(None)
}

impl Guest for Hostile {
    fn spin() {
        let mut turns: u64 = 0;
        loop {
            turns = std::hint::black_box(turns.wrapping_add(1));
        }
    }

    fn grow_memory() -> u64 {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 1 << 20];
            if let Some(last) = block.last_mut() {
                *last = 1;
            }
            blocks.push(std::hint::black_box(block));
        }
    }

    fn many_handles(count: u32) -> u32 {
        let handles: Vec<Container> = (0..count).map(|_| Container::new("busybox")).collect();
        handles.len() as u32
    }

    fn run_image(image: String) -> Result<String, Error> {
        Container::new(&image)
            .with_exec(&["echo".to_string(), "hi".to_string()])
            .stdout()
    }

    fn image_container(image: String) -> Container {
        Container::new(&image)
    }

    fn stash(secret: String) -> Result<String, Error> {
        let words = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        Container::new("busybox")
            .with_new_file("/secret", secret.as_bytes(), None)
            .with_exec(&words(&["sh", "-c", "mv /secret /stash.txt"]))
            .with_exec(&words(&["cat", "/stash.txt"]))
            .stdout()
    }

    fn hold_host_service(port: u16, seconds: u32) -> Result<(), Error> {
        let forward = PortForward {
            frontend: None,
            backend: port,
            protocol: Protocol::Tcp,
        };
        let service = host::service(&[forward], Some("127.0.0.1"))?;
        Container::new("busybox")
            .with_service_binding("host", &service)
            .with_exec(&["sleep".to_string(), seconds.to_string()])
            .sync()
    }

    fn read_image_file(image: String, path: String) -> Result<String, Error> {
        let bytes = Container::new(&image).file(&path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn read_host_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn open_socket(address: String) -> Result<String, String> {
        std::net::TcpStream::connect(&address)
            .map(|_| format!("connected to {address}"))
            .map_err(|e| e.to_string())
    }

    fn environment() -> Vec<String> {
        std::env::vars().map(|(k, v)| format!("{k}={v}")).collect()
    }

    fn many_containers(tag: String, count: u32) -> Result<u32, Error> {
        for step in 0..count {
            busybox_step(&["echo", &tag, &step.to_string()]).sync()?;
        }
        Ok(count)
    }

    fn many_services(tag: String, count: u32) -> Result<u32, Error> {
        let services: Vec<Service> = (0..count).map(|n| http_service(&format!("{tag}-{n}"))).collect();
        for service in &services {
            service.start()?;
        }
        Ok(count)
    }

    fn reach_host(host: String, port: u16) -> Result<String, Error> {
        let forward = PortForward {
            frontend: None,
            backend: port,
            protocol: Protocol::Tcp,
        };
        host::service(&[forward], Some(&host))?.hostname()
    }

    fn open_host_directory(path: String) -> Result<Vec<String>, Error> {
        host::directory(&path)?.entries()
    }

    fn fetch_url(url: String) -> Result<String, Error> {
        // busybox's own `wget -T` crashes (exit 139), so `timeout` bounds it;
        // under a shell, since a signal to pid 1 without a handler is ignored.
        busybox_step(&["sh", "-c", "timeout 3 wget -qO- \"$0\"; exit $?", &url]).stdout()
    }

    fn bind_then_trap() -> Result<(), Error> {
        http_service("trap").start()?;
        // A trap with no panic message, as a crash in any language would end.
        core::arch::wasm32::unreachable()
    }
}

export!(Hostile);
