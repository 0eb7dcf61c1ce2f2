//! Functions that exercise each container operation, for berth's own tests.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:pipelines/pipelines",
    generate_all,
});

use berth::core::containers::stdout_all;

struct Pipelines;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn busybox() -> Container {
    Container::new("busybox")
}

impl Guest for Pipelines {
    fn file_roundtrip(contents: String, permissions: Option<u32>) -> Result<String, Error> {
        busybox()
            .with_new_file("/data/in.txt", contents.as_bytes(), permissions)
            .with_exec(&strings(&[
                "sh",
                "-c",
                "stat -c %a /data/in.txt; cat /data/in.txt",
            ]))
            .stdout()
    }

    fn env_and_workdir(value: String, workdir: String) -> Result<String, Error> {
        busybox()
            .with_env_variable("GREETING", &value)
            .with_workdir(&workdir)
            .with_exec(&strings(&["sh", "-c", "echo \"$GREETING\" \"$(pwd)\""]))
            .stdout()
    }

    fn entrypoint(arg: String) -> Result<String, Error> {
        busybox()
            .with_entrypoint(&strings(&["echo", "entry:"]))
            .with_exec(&[arg])
            .stdout()
    }

    fn chain() -> Result<String, Error> {
        busybox()
            .with_exec(&strings(&["sh", "-c", "echo one > /f"]))
            .with_exec(&strings(&["sh", "-c", "echo two >> /f"]))
            .with_exec(&strings(&["cat", "/f"]))
            .stdout()
    }

    fn exit_code(code: i32) -> Result<i32, Error> {
        busybox()
            .with_exec(&strings(&["sh", "-c", &format!("exit {code}")]))
            .exit_code()
    }

    fn failing_stdout(code: i32) -> Result<String, Error> {
        busybox()
            .with_exec(&strings(&[
                "sh",
                "-c",
                &format!("echo out; echo err >&2; exit {code}"),
            ]))
            .stdout()
    }

    fn stderr_of(text: String) -> Result<String, Error> {
        busybox()
            .with_exec(&strings(&["sh", "-c", &format!("echo {text} >&2")]))
            .stderr()
    }

    fn read_file(path: String) -> Result<String, Error> {
        let bytes = busybox()
            .with_exec(&strings(&[
                "sh",
                "-c",
                "mkdir -p /out && echo made > /out/file.txt && ln -s file.txt /out/link.txt",
            ]))
            .with_new_file("/out/later.txt", b"written after", None)
            .file(&path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn echo_file(text: String) -> Result<String, Error> {
        let bytes = busybox()
            .with_exec(&strings(&["sh", "-c", "echo \"$0\" > /echo.txt", &text]))
            .file("/echo.txt")?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn failure_details(code: i32) -> Vec<String> {
        let failing = busybox().with_exec(&strings(&[
            "sh",
            "-c",
            &format!("echo $RANDOM >&2; exit {code}"),
        ]));
        let kind = |result: Result<String, Error>| match result {
            Ok(text) => text,
            Err(e) => format!("{:?}: {}", e.kind, e.stderr.unwrap_or_default().trim()),
        };
        vec![
            kind(failing.stdout()),
            kind(failing.stderr()),
            kind(failing.exit_code().map(|c| c.to_string())),
        ]
    }

    fn host_directory(dir: String, file: String) -> Result<String, Error> {
        let directory = berth::core::host::directory(&dir)?;
        let container = busybox()
            .with_directory("/data", &directory)
            .with_exec(&["cat".to_string(), format!("/data/{file}")]);
        Ok(format!("{}\n{}", container.digest()?, container.stdout()?))
    }

    fn digest_of(args: Vec<String>) -> Result<String, Error> {
        busybox().with_exec(&args).digest()
    }

    fn run_in(base: &Container, args: Vec<String>) -> Result<String, Error> {
        base.with_exec(&args).stdout()
    }

    fn echo_all(count: u32) -> Vec<Result<String, Error>> {
        let containers: Vec<Container> = (1..=count)
            .map(|n| busybox().with_exec(&strings(&["echo", &n.to_string()])))
            .collect();
        let borrowed: Vec<&Container> = containers.iter().collect();
        stdout_all(&borrowed)
    }

    fn describe(
        text: String,
        flag: bool,
        count: u32,
        ratio: f64,
        shade: Color,
        maybe: Option<u32>,
        items: Vec<String>,
        at: Point,
    ) -> String {
        format!(
            "text={text} flag={flag} count={count} ratio={ratio} shade={shade:?} maybe={maybe:?} items={items:?} at=({},{})",
            at.x, at.y
        )
    }

    fn chatter() -> u32 {
        println!("to stdout");
        eprintln!("to stderr");
        7
    }
}

export!(Pipelines);
