//! `cargo xtask bench`: measure berth next to plain docker on this machine and write BENCHMARKS.md.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::engines::Engine;
use crate::{cargo, root, run};

/// One measured row: samples in milliseconds, and the reference row's name, if any.
struct Row {
    name: String,
    samples: Vec<f64>,
    reference: Option<String>,
}

/// A measured figure that is not a time: a rate, a count per GiB.
struct Figure {
    name: String,
    value: String,
    unit: String,
}

pub fn bench() -> Result<()> {
    // The start-to-healthy bench compares with Debian's docker-compose.
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        run(Command::new("apt-get").args(["install", "-y", "docker-compose"]))?;
    }
    run(cargo().args(["build", "--release", "--package", "berth"]))?;
    let (mut rows, figures) = in_process_rows()?;
    rows.extend(process_rows()?);
    rows.extend(engine_rows()?);
    let mut report = render(&rows, &figures);
    // What the numbers mean, and the profiles behind them: written by hand.
    let analysis = std::fs::read_to_string(root().join("bench/analysis.md"))
        .context("reading bench/analysis.md")?;
    report.push('\n');
    report.push_str(&analysis);
    print!("{report}");
    std::fs::write(root().join("BENCHMARKS.md"), report)?;
    println!("xtask: wrote BENCHMARKS.md");
    Ok(())
}

/// The library-level benches, each printing `name, reference, samples...`
/// lines, and `figure, name, value, unit` lines.
const BENCHES: &[&str] = &[
    "call_overhead",
    "start_to_healthy",
    "services",
    "tunnels",
    "serve",
];

fn in_process_rows() -> Result<(Vec<Row>, Vec<Figure>)> {
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for bench in BENCHES {
        let output = run_bench(bench, &[])?;
        parse_bench(&output, &mut rows, &mut figures);
    }
    Ok((rows, figures))
}

/// Start to healthy on each engine the tests use, beside that engine's floor.
fn engine_rows() -> Result<Vec<Row>> {
    const LOCAL: Engine = Engine {
        name: "local",
        host: "unix:///var/run/docker.sock",
        routes_from_here: true,
    };
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for engine in std::iter::once(&LOCAL).chain(crate::other_engines()?) {
        let mut env = vec![
            ("DOCKER_HOST", engine.host),
            ("BERTH_BENCH_ENGINE", engine.name),
        ];
        if engine.routes_from_here {
            env.push(("BERTH_BENCH_ROUTABLE", "1"));
        }
        let output = run_bench("engines", &env)?;
        parse_bench(&output, &mut rows, &mut figures);
    }
    Ok(rows)
}

/// Runs one bench of berth-bench, with `env` added; its stdout.
fn run_bench(bench: &str, env: &[(&str, &str)]) -> Result<String> {
    let output = cargo()
        .args(["bench", "--package", "berth-bench", "--bench", bench])
        .envs(env.iter().copied())
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running the {bench} bench"))?;
    if !output.status.success() {
        bail!("the {bench} bench failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads a bench's `name, reference, samples...` and `figure, name, value, unit` lines.
fn parse_bench(output: &str, rows: &mut Vec<Row>, figures: &mut Vec<Figure>) {
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if let ["figure", name, value, unit] = &fields[..] {
            figures.push(Figure {
                name: name.to_string(),
                value: value.to_string(),
                unit: unit.to_string(),
            });
            continue;
        }
        let [name, reference, samples @ ..] = &fields[..] else {
            continue;
        };
        let samples: Vec<f64> = samples.iter().filter_map(|f| f.parse().ok()).collect();
        if !samples.is_empty() {
            rows.push(Row {
                name: name.to_string(),
                samples,
                reference: (*reference != "-").then(|| reference.to_string()),
            });
        }
    }
}

fn process_rows() -> Result<Vec<Row>> {
    let berth = root().join("target/release/berth");
    let hello = root().join("target/plugins/hello.wasm");
    let hello = hello.to_str().context("utf-8 path")?;
    let berth_call = |msg: &str| {
        let mut command = Command::new(&berth);
        command
            .current_dir(root())
            .args(["call", hello, "echo", "--msg", msg]);
        command
    };
    let docker_run = || {
        let mut command = Command::new("docker");
        command.args(["run", "--rm", "berth.local/busybox:latest", "echo", "bench"]);
        command
    };
    const ROUNDS: usize = 10;
    let docker = time(ROUNDS, |_| docker_run())?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let miss = time(ROUNDS, |round| {
        berth_call(&format!("bench-{stamp}-{round}"))
    })?;
    let hit = time(ROUNDS, |_| berth_call("bench"))?;
    let pure = time(ROUNDS, |_| {
        let mut command = Command::new(&berth);
        command
            .current_dir(root())
            .args(["call", hello, "hello", "--name", "bench"]);
        command
    })?;
    let reference = Some("docker run --rm busybox echo".to_string());
    Ok(vec![
        Row {
            name: "docker run --rm busybox echo".into(),
            samples: docker,
            reference: None,
        },
        Row {
            name: "berth call hello echo (exec-cache miss)".into(),
            samples: miss,
            reference,
        },
        // The exec cache: the same pipeline run again, against its first run.
        Row {
            name: "berth call hello echo (exec-cache hit)".into(),
            samples: hit,
            reference: Some("berth call hello echo (exec-cache miss)".into()),
        },
        Row {
            name: "berth call hello hello (pure, whole process)".into(),
            samples: pure,
            reference: None,
        },
    ])
}

/// Wall time of `rounds` runs of a command, in milliseconds.
fn time(rounds: usize, command: impl Fn(usize) -> Command) -> Result<Vec<f64>> {
    // One unmeasured run warms the page cache and the compiled-component cache.
    command(usize::MAX)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    (0..rounds)
        .map(|round| {
            let mut command = command(round);
            let started = Instant::now();
            let status = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            if !status.success() {
                bail!("{command:?} failed");
            }
            Ok(elapsed)
        })
        .collect()
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn render(rows: &[Row], figures: &[Figure]) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    let machine = machine();
    let _ = writeln!(
        out,
        "Measured by `cargo xtask bench` on {machine}. Times are wall-clock milliseconds over repeated runs in one session; absolute numbers drift on a shared machine, the ratios to the reference measured in the same run are the result.\n"
    );
    out.push_str("| measurement | runs | median ms | min–max ms | vs reference |\n| --- | --- | --- | --- | --- |\n");
    for row in rows {
        let min = row.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = row.samples.iter().copied().fold(0.0, f64::max);
        let ratio = row
            .reference
            .as_ref()
            .and_then(|r| rows.iter().find(|other| &other.name == r))
            .map(|r| {
                format!(
                    "{:.2}× {}",
                    median(&row.samples) / median(&r.samples),
                    r.name
                )
            })
            .unwrap_or_else(|| "reference".to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3}–{:.3} | {} |",
            row.name,
            row.samples.len(),
            median(&row.samples),
            min,
            max,
            ratio
        );
    }
    out.push_str("\n| figure | value |\n| --- | --- |\n");
    for figure in figures {
        let _ = writeln!(
            out,
            "| {} | {} {} |",
            figure.name, figure.value, figure.unit
        );
    }
    out
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{} GiB", kb / 1024 / 1024))
        .unwrap_or_default();
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpus} cores, {memory}, Docker engine {engine}")
}
