//! Verbs chained after a function's arguments: `up`, `endpoint`, `hostname`.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Result, bail};
use berth::net::{PortMapping, default_mappings, publish};
use berth::services::ServiceManager;
use berth::spec::ServiceSpec;
use clap::Parser;

/// A verb applied to the function's result.
#[derive(Debug)]
pub enum Then {
    Up(UpArgs),
    Endpoint(EndpointArgs),
    Hostname,
}

/// `up`: make the returned service reachable from this host until SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "up", no_binary_name = true)]
pub struct UpArgs {
    /// FRONT:BACK forwards host port FRONT to the service's port BACK (PORT means PORT:PORT).
    #[arg(long = "ports", value_name = "FRONT:BACK", value_parser = parse_mapping)]
    ports: Vec<PortMapping>,
    /// Forward each exposed port from a free host port.
    #[arg(long, conflicts_with = "ports")]
    random: bool,
    /// The host address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

/// `endpoint`: print `host:port` (or `scheme://host:port`) of the returned service.
#[derive(Parser, Debug)]
#[command(name = "endpoint", no_binary_name = true)]
pub struct EndpointArgs {
    /// The port (the first exposed one when absent).
    #[arg(long)]
    port: Option<u16>,
    /// A URL scheme to put in front, such as http.
    #[arg(long)]
    scheme: Option<String>,
}

const VERBS: &[&str] = &["up", "endpoint", "hostname"];

/// Splits `--name value ... VERB verb-args` into the function's arguments and the verb.
///
/// A verb is recognised where a flag name would come. (After a bool switch,
/// write `--flag=true` so the verb is not taken as its value.)
pub fn split(args: &[String]) -> Result<(Vec<String>, Option<Then>)> {
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        if arg.starts_with("--") {
            let takes_value = !arg.contains('=')
                && args
                    .get(index + 1)
                    .is_some_and(|next| !next.starts_with("--"));
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        if VERBS.contains(&arg.as_str()) {
            let rest = &args[index + 1..];
            let then = match arg.as_str() {
                "up" => Then::Up(UpArgs::try_parse_from(rest)?),
                "endpoint" => Then::Endpoint(EndpointArgs::try_parse_from(rest)?),
                _ if rest.is_empty() => Then::Hostname,
                _ => bail!("`hostname` takes no arguments"),
            };
            return Ok((args[..index].to_vec(), Some(then)));
        }
        // Not a verb: let the argument parser name the stray word.
        index += 1;
    }
    Ok((args.to_vec(), None))
}

fn parse_mapping(text: &str) -> Result<PortMapping, String> {
    let port = |p: &str| match p.trim().parse::<u32>() {
        Ok(number @ 0..=65535) => Ok(number as u16),
        Ok(number) => Err(format!("port {number} is out of range (0 to 65535)")),
        Err(_) => Err(format!("`{p}` is not a port number")),
    };
    let (frontend, backend) = match text.split_once(':') {
        Some((front, back)) => (port(front)?, port(back)?),
        None => (port(text)?, port(text)?),
    };
    if backend == 0 {
        return Err("the service port cannot be 0".into());
    }
    Ok(PortMapping { frontend, backend })
}

impl Then {
    /// Refuses a verb berth.toml does not allow, before the function runs.
    pub fn check_allowed(&self, policy: &berth::policy::Policy) -> Result<()> {
        if matches!(self, Then::Up(_)) && !policy.host.up {
            bail!("`up` is not allowed: berth.toml sets [host] up = false");
        }
        Ok(())
    }

    /// Applies the verb to a returned service.
    pub async fn run(&self, services: &Arc<ServiceManager>, service: &ServiceSpec) -> Result<()> {
        match self {
            Then::Hostname => {
                let (_, hostname) = services.identify(service).await?;
                println!("{hostname}");
            }
            Then::Endpoint(args) => {
                let endpoint = services
                    .endpoint(service, args.port, args.scheme.as_deref())
                    .await?;
                println!("{endpoint}");
            }
            Then::Up(args) => up(services, service, args).await?,
        }
        Ok(())
    }
}

async fn up(services: &Arc<ServiceManager>, service: &ServiceSpec, args: &UpArgs) -> Result<()> {
    let mappings = if args.ports.is_empty() {
        default_mappings(service, args.random)?
    } else {
        args.ports.clone()
    };
    let publication = tokio::select! {
        publication = publish(services, service, &mappings, args.bind) => publication?,
        signal = super::shutdown_signal() => bail!("interrupted by {signal} before the service was up"),
    };
    for (address, backend) in publication.tunnels() {
        let scheme = if is_web_port(backend) { "http" } else { "tcp" };
        println!(
            "{scheme}://{address} -> {}:{backend}",
            publication.hostname()
        );
    }
    let signal = super::shutdown_signal().await;
    eprintln!("berth: {signal}: stopping");
    drop(publication);
    Ok(())
}

/// Ports that usually speak HTTP, for the scheme in `up`'s output.
fn is_web_port(port: u16) -> bool {
    matches!(port, 80 | 443 | 3000 | 5000 | 8000..=8999)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_verb_ends_the_function_arguments() {
        let (args, then) = split(&strings(&["--svc", "x", "up", "--ports", "8080:80"])).unwrap();
        assert_eq!(args, strings(&["--svc", "x"]));
        match then {
            Some(Then::Up(up)) => assert_eq!(
                up.ports,
                vec![PortMapping {
                    frontend: 8080,
                    backend: 80
                }]
            ),
            other => panic!("expected up, got {other:?}"),
        }
    }

    #[test]
    fn a_flag_value_named_like_a_verb_is_a_value() {
        let (args, then) = split(&strings(&["--name", "up"])).unwrap();
        assert_eq!(args, strings(&["--name", "up"]));
        assert!(then.is_none());
    }

    #[test]
    fn ports_out_of_range_are_refused() {
        assert!(
            parse_mapping("70000:80")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_mapping("8080:0").is_err());
        assert_eq!(
            parse_mapping("9000").unwrap(),
            PortMapping {
                frontend: 9000,
                backend: 9000
            }
        );
    }
}
