//! Spec canonicalization: two pipelines get one digest exactly when they are
//! equal (after image resolution), and every prefix digest is the digest of
//! that prefix built on its own.

#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use berth::spec::{
    ContainerSpec, ExposedPort, NewFile, Op, PortForward, Probe, Protocol, ResolvedImages,
    ServiceSpec,
};
use libfuzzer_sys::fuzz_target;

/// Image addresses; the first two resolve to the same image.
const ADDRESSES: [&str; 3] = ["busybox", "docker.io/library/busybox:latest", "python"];

fn images() -> ResolvedImages {
    ResolvedImages::from([
        (ADDRESSES[0].to_string(), "sha256:b0".to_string()),
        (ADDRESSES[1].to_string(), "sha256:b0".to_string()),
        (ADDRESSES[2].to_string(), "sha256:p1".to_string()),
    ])
}

#[derive(Arbitrary, Clone, Debug, PartialEq)]
enum FuzzProbe {
    Tcp(u16),
    Http { port: u16, path: String, status: Option<u16> },
    Exec(Vec<String>),
    LogLine(String),
}

#[derive(Arbitrary, Clone, Debug, PartialEq)]
enum FuzzOp {
    Exec(Vec<String>),
    NewFile { path: String, contents: Vec<u8>, permissions: u32 },
    Env { name: String, value: String },
    Workdir(String),
    Entrypoint(Vec<String>),
    Port { number: u16, udp: bool, description: Option<String> },
    HostService { alias: String, host: String, ports: Vec<(Option<u16>, u16, bool)> },
    ContainerService { alias: String, address: u8, exec: Vec<String>, args: Option<Vec<String>> },
    Health { probes: Vec<FuzzProbe>, timeout_ms: Option<u32> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    a_address: u8,
    a: Vec<FuzzOp>,
    b_address: u8,
    b: Vec<FuzzOp>,
    /// Make B's operations A's, so the equal case is common.
    b_copies_a: bool,
}

fn address(choice: u8) -> &'static str {
    ADDRESSES[usize::from(choice) % ADDRESSES.len()]
}

/// The resolved image, which is what equality is about.
fn image(choice: u8) -> String {
    images()[address(choice)].clone()
}

fn protocol(udp: bool) -> Protocol {
    if udp { Protocol::Udp } else { Protocol::Tcp }
}

fn op(fuzz: &FuzzOp) -> Op {
    match fuzz.clone() {
        FuzzOp::Exec(args) => Op::Exec(args.into()),
        FuzzOp::NewFile { path, contents, permissions } => Op::NewFile(NewFile {
            path,
            contents: contents.into(),
            permissions,
        }),
        FuzzOp::Env { name, value } => Op::EnvVariable { name, value },
        FuzzOp::Workdir(path) => Op::Workdir(path),
        FuzzOp::Entrypoint(args) => Op::Entrypoint(args.into()),
        FuzzOp::Port { number, udp, description } => Op::ExposedPort(ExposedPort {
            number,
            protocol: protocol(udp),
            description,
        }),
        FuzzOp::HostService { alias, host, ports } => Op::ServiceBinding {
            alias,
            service: ServiceSpec::Host {
                host,
                ports: ports
                    .into_iter()
                    .map(|(frontend, backend, udp)| PortForward {
                        frontend,
                        backend,
                        protocol: protocol(udp),
                    })
                    .collect(),
            },
        },
        FuzzOp::ContainerService { alias, address: choice, exec, args } => Op::ServiceBinding {
            alias,
            service: ServiceSpec::container(
                ContainerSpec::new(address(choice)).with(Op::Exec(exec.into())),
                args.map(Arc::from),
            ),
        },
        FuzzOp::Health { probes, timeout_ms } => Op::HealthCheck {
            probes: probes
                .into_iter()
                .map(|probe| match probe {
                    FuzzProbe::Tcp(port) => Probe::Tcp(port),
                    FuzzProbe::Http { port, path, status } => Probe::Http { port, path, status },
                    FuzzProbe::Exec(args) => Probe::Exec(args),
                    FuzzProbe::LogLine(text) => Probe::LogLine(text),
                })
                .collect(),
            timeout_ms,
        },
    }
}

/// Equality as the digest must see it: nested images compared after resolution.
fn resolved(ops: &[FuzzOp]) -> Vec<FuzzOp> {
    ops.iter()
        .map(|fuzz| match fuzz {
            FuzzOp::ContainerService { alias, address: choice, exec, args } => {
                FuzzOp::ContainerService {
                    alias: alias.clone(),
                    // Both busybox spellings are one image.
                    address: u8::from(image(*choice) == "sha256:p1"),
                    exec: exec.clone(),
                    args: args.clone(),
                }
            }
            other => other.clone(),
        })
        .collect()
}

fn spec(choice: u8, ops: &[FuzzOp]) -> ContainerSpec {
    ops.iter()
        .fold(ContainerSpec::new(address(choice)), |spec, fuzz| spec.with(op(fuzz)))
}

fuzz_target!(|input: Input| {
    let images = images();
    let b_ops = if input.b_copies_a { input.a.clone() } else { input.b.clone() };
    let a = spec(input.a_address, &input.a);
    let b = spec(input.b_address, &b_ops);
    let equal = image(input.a_address) == image(input.b_address) && resolved(&input.a) == resolved(&b_ops);
    assert_eq!(
        a.digest(&images) == b.digest(&images),
        equal,
        "digest equality must match spec equality:\nA: {a:?}\nB: {b:?}"
    );
    let prefixes = a.prefix_digests(&images);
    for (length, digest) in prefixes.iter().enumerate() {
        assert_eq!(
            *digest,
            spec(input.a_address, &input.a[..length]).digest(&images),
            "prefix {length} of {a:?}"
        );
    }
});
