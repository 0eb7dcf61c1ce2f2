//! A guest's stdout and stderr, shown on the host's with the function's name in front of each line.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Clone, Copy)]
enum Target {
    Stdout,
    Stderr,
}

/// One of the guest's output streams.
#[derive(Clone)]
pub struct GuestOutput {
    prefix: Arc<str>,
    target: Target,
    /// Whether the next byte starts a line (and so needs the prefix).
    at_line_start: Arc<Mutex<bool>>,
}

impl GuestOutput {
    /// The guest's stdout, shown on the host's stdout.
    pub fn stdout(function: &str) -> Self {
        Self::new(function, Target::Stdout)
    }

    /// The guest's stderr, shown on the host's stderr.
    pub fn stderr(function: &str) -> Self {
        Self::new(function, Target::Stderr)
    }

    fn new(function: &str, target: Target) -> Self {
        GuestOutput {
            prefix: format!("[{function}] ").into(),
            target,
            at_line_start: Arc::new(Mutex::new(true)),
        }
    }

    fn prefixed(&self, bytes: &[u8]) -> Vec<u8> {
        let mut at_line_start = crate::lock(&self.at_line_start);
        let mut out = Vec::with_capacity(bytes.len() + self.prefix.len());
        for &byte in bytes {
            if *at_line_start {
                out.extend_from_slice(self.prefix.as_bytes());
            }
            out.push(byte);
            *at_line_start = byte == b'\n';
        }
        out
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let bytes = self.prefixed(buf);
        let written = match self.target {
            Target::Stdout => std::io::stdout().lock().write_all(&bytes),
            Target::Stderr => std::io::stderr().lock().write_all(&bytes),
        };
        Poll::Ready(written.map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = match self.target {
            Target::Stdout => std::io::stdout().flush(),
            Target::Stderr => std::io::stderr().flush(),
        };
        Poll::Ready(flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_gets_the_prefix_across_writes() {
        let out = GuestOutput::stdout("f");
        let mut shown = out.prefixed(b"a\nb");
        shown.extend(out.prefixed(b"c\n"));
        shown.extend(out.prefixed(b"d"));
        assert_eq!(String::from_utf8(shown).unwrap(), "[f] a\n[f] bc\n[f] d");
    }
}
