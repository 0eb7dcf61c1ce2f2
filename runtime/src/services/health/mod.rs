//! Readiness: one driver loop owns backoff, deadline and fail-fast on exit;
//! each probe kind is one file.

mod exec;
mod http;
mod log_line;
mod tcp;

use std::time::{Duration, Instant};

use crate::backend::{ContainerBackend, ContainerState, ServiceContainer};
use crate::pipeline::Error;
use crate::spec::{ExposedPort, Probe, Protocol};

/// The first poll comes this soon after start; polls then back off to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(10);
const MAX_DELAY: Duration = Duration::from_millis(250);
/// Even at the deadline, a probe gets this long to answer once.
const MIN_PROBE_TIME: Duration = Duration::from_secs(1);
/// Lines of log put into health errors.
const LOG_TAIL: u32 = 20;

/// Why one probe did not pass yet.
pub(crate) struct ProbeFailure {
    /// The service answered, but not as required (as opposed to not answering at all).
    answered: bool,
    /// Asking again cannot help: the engine cannot run the probe at all.
    lasting: bool,
    message: String,
}

impl ProbeFailure {
    fn no_answer(message: impl Into<String>) -> Self {
        ProbeFailure {
            answered: false,
            lasting: false,
            message: message.into(),
        }
    }

    fn wrong_answer(message: impl Into<String>) -> Self {
        ProbeFailure {
            answered: true,
            lasting: false,
            message: message.into(),
        }
    }

    /// The engine could not carry the probe out: no answer yet, unless the
    /// engine lacks what the probe needs, which fails the service at once.
    fn engine(error: &crate::backend::Error) -> Self {
        ProbeFailure {
            lasting: error.is_lasting(),
            ..ProbeFailure::no_answer(error.to_string())
        }
    }
}

/// The probes of a service: the declared ones, or a TCP connect on every exposed TCP port.
pub fn probes_for(declared: Option<&[Probe]>, ports: &[ExposedPort]) -> Vec<Probe> {
    match declared {
        Some(probes) => probes.to_vec(),
        None => ports
            .iter()
            .filter(|p| p.protocol == Protocol::Tcp)
            .map(|p| Probe::Tcp(p.number))
            .collect(),
    }
}

/// What the probes check: a host service's address, or a service's container.
pub struct Target<'a> {
    /// Dialled from here when there is no container.
    pub address: &'a str,
    /// The container, whose ports the backend reaches as it must.
    pub container: Option<&'a ServiceContainer>,
}

/// Waits until every probe passes; fails fast when the container exits.
pub async fn wait_healthy(
    backend: &dyn ContainerBackend,
    target: &Target<'_>,
    probes: &[Probe],
    timeout: Duration,
    service: &str,
) -> Result<(), Error> {
    // A timeout too large to add to now is as good as none.
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
    let mut pending: Vec<usize> = (0..probes.len()).collect();
    // Per probe, its last wrong answer: at the deadline it explains more than
    // a final attempt that merely ran out of time.
    let mut wrong_answers: Vec<Option<String>> = vec![None; probes.len()];
    let mut delay = FIRST_DELAY;
    let log_tail = || async {
        match target.container {
            Some(container) => backend
                .container_logs(&container.id, Some(LOG_TAIL))
                .await
                .unwrap_or_default(),
            None => String::new(),
        }
    };
    loop {
        if let Some(container) = target.container {
            match backend.container_state(&container.id).await? {
                ContainerState::Running => {}
                ContainerState::Exited { exit_code } => {
                    return Err(Error::ServiceExited {
                        service: service.to_string(),
                        exit_code,
                        logs: log_tail().await,
                    });
                }
                ContainerState::Gone => {
                    return Err(Error::ServiceExited {
                        service: service.to_string(),
                        exit_code: -1,
                        logs: "(the container was removed)".into(),
                    });
                }
            }
        }
        let mut failures = Vec::new();
        for index in pending {
            // A probe that hangs (an exec that never ends) must not outlive the deadline.
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_PROBE_TIME);
            let checked = tokio::time::timeout(remaining, check(backend, target, &probes[index]))
                .await
                .unwrap_or_else(|_| {
                    Err(ProbeFailure::no_answer("the probe did not finish in time"))
                });
            if let Err(failure) = checked {
                if failure.lasting {
                    return Err(Error::Unhealthy {
                        service: service.to_string(),
                        probe: describe(&probes[index]),
                        message: failure.message,
                        logs: String::new(),
                    });
                }
                if failure.answered {
                    wrong_answers[index] = Some(failure.message.clone());
                }
                failures.push((index, failure));
            }
        }
        let Some((first, failure)) = failures.first() else {
            return Ok(());
        };
        let now = Instant::now();
        if now >= deadline {
            let probe = describe(&probes[*first]);
            let logs = log_tail().await;
            let service = service.to_string();
            return Err(match wrong_answers[*first].take() {
                Some(message) => Error::Unhealthy {
                    service,
                    probe,
                    message,
                    logs,
                },
                None => Error::HealthTimeout {
                    service,
                    probe,
                    message: failure.message.clone(),
                    timeout,
                    logs,
                },
            });
        }
        pending = failures.into_iter().map(|(index, _)| index).collect();
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

async fn check(
    backend: &dyn ContainerBackend,
    target: &Target<'_>,
    probe: &Probe,
) -> Result<(), ProbeFailure> {
    match (probe, target.container) {
        (Probe::Tcp(port), _) => tcp::check(backend, target, *port).await,
        (Probe::Http { port, path, status }, _) => {
            http::check(backend, target, *port, path, *status).await
        }
        (Probe::Exec(args), Some(container)) => exec::check(backend, &container.id, args).await,
        (Probe::LogLine(text), Some(container)) => {
            log_line::check(backend, &container.id, text).await
        }
        (Probe::Exec(_) | Probe::LogLine(_), None) => Err(ProbeFailure::wrong_answer(
            "exec and log-line probes need a container; a host service has none",
        )),
    }
}

/// A probe as a user would name it.
pub fn describe(probe: &Probe) -> String {
    match probe {
        Probe::Tcp(port) => format!("tcp connect to port {port}"),
        Probe::Http { port, path, status } => match status {
            Some(status) => format!("http GET :{port}{path} expecting {status}"),
            None => format!("http GET :{port}{path} expecting 2xx or 3xx"),
        },
        Probe::Exec(args) => format!("exec `{}`", args.join(" ")),
        Probe::LogLine(text) => format!("log line containing {text:?}"),
    }
}
