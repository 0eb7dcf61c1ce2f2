//! A Docker engine that misbehaves on purpose: a proxy in front of the real
//! engine's socket that answers chosen requests with an error, or never.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};

/// The real engine the proxy forwards to.
const ENGINE_SOCKET: &str = "/var/run/docker.sock";

type Body = BoxBody<Bytes, hyper::Error>;

/// What to do to the requests a [`Fault`] matches.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// Answer with this status and message, as the engine words its errors.
    Answer(u16, &'static str),
    /// Never answer.
    Hang,
    /// Forward, and change the engine's JSON answer with this before passing it on.
    Rewrite(fn(&mut serde_json::Value)),
}

/// Misbehave on the first `times` requests whose method is `method` and whose
/// path contains `path` (`""` matches every method, or every path).
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: &'static str,
    pub path: &'static str,
    pub misbehaviour: Misbehaviour,
    pub times: usize,
}

impl Fault {
    fn matches<B>(&self, request: &Request<B>) -> bool {
        (self.method.is_empty() || request.method().as_str() == self.method)
            && request.uri().path().contains(self.path)
    }
}

/// A running proxy; it stops with the test process.
pub struct EngineProxy {
    socket: PathBuf,
    /// How many times each fault has fired, in the order given.
    fired: Arc<Mutex<Vec<usize>>>,
    _dir: tempfile::TempDir,
}

impl EngineProxy {
    /// Starts a proxy that misbehaves as `faults` say and forwards everything else.
    ///
    /// Connection upgrades (attached `exec`) are not forwarded: tests through
    /// the proxy use no exec probes.
    pub fn start(faults: Vec<Fault>) -> EngineProxy {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("docker.sock");
        let fired = Arc::new(Mutex::new(vec![0; faults.len()]));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let listen_at = socket.clone();
        let counts = fired.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            runtime.block_on(serve(listen_at, Arc::new(faults), counts, ready_tx));
        });
        ready_rx.recv().expect("the proxy listens");
        EngineProxy {
            socket,
            fired,
            _dir: dir,
        }
    }

    /// The `DOCKER_HOST` value that reaches this proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// How many requests fault number `index` has answered.
    pub fn fired(&self, index: usize) -> usize {
        self.fired.lock().unwrap()[index]
    }
}

async fn serve(
    socket: PathBuf,
    faults: Arc<Vec<Fault>>,
    fired: Arc<Mutex<Vec<usize>>>,
    ready: std::sync::mpsc::Sender<()>,
) {
    let listener = UnixListener::bind(&socket).expect("the proxy socket binds");
    ready.send(()).expect("the test waits");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let faults = faults.clone();
        let fired = fired.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(request, faults.clone(), fired.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    faults: Arc<Vec<Fault>>,
    fired: Arc<Mutex<Vec<usize>>>,
) -> Result<Response<Body>, Infallible> {
    let chosen = {
        let mut fired = fired.lock().unwrap();
        faults
            .iter()
            .enumerate()
            .find(|(index, fault)| fault.matches(&request) && fired[*index] < fault.times)
            .map(|(index, fault)| {
                fired[index] += 1;
                fault.misbehaviour.clone()
            })
    };
    match chosen {
        Some(Misbehaviour::Answer(status, message)) => Ok(answer(status, message)),
        Some(Misbehaviour::Hang) => std::future::pending().await,
        Some(Misbehaviour::Rewrite(change)) => Ok(rewritten(request, change)
            .await
            .unwrap_or_else(|e| answer(502, &e))),
        None => Ok(forward(request).await.unwrap_or_else(|e| answer(502, &e))),
    }
}

/// An error answer worded as the engine words them.
fn answer(status: u16, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("a header"),
    );
    response
}

/// The engine's answer to `request`, its JSON body changed by `change`.
async fn rewritten(
    request: Request<Incoming>,
    change: fn(&mut serde_json::Value),
) -> Result<Response<Body>, String> {
    let (mut parts, body) = forward(request).await?.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| format!("proxy: {e}"))?
        .to_bytes();
    let mut json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("proxy: not JSON: {e}"))?;
    change(&mut json);
    parts.headers.remove("content-length");
    parts.headers.remove("transfer-encoding");
    let body = Full::new(Bytes::from(json.to_string()))
        .map_err(|never| match never {})
        .boxed();
    Ok(Response::from_parts(parts, body))
}

async fn forward(request: Request<Incoming>) -> Result<Response<Body>, String> {
    let stream = UnixStream::connect(Path::new(ENGINE_SOCKET))
        .await
        .map_err(|e| format!("proxy: cannot reach the engine: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("proxy: {e}"))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("proxy: {e}"))?;
    Ok(response.map(BodyExt::boxed))
}
