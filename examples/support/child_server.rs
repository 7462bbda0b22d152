//! A benchmark's local server run in a child process, so the numbers a
//! benchmark reports (peak RSS above all) are its own alone. The child
//! prints `LISTENING <port>` once it accepts connections.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// The running child; killed when dropped.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl ChildServer {
    /// Starts `program args…` and waits for its `LISTENING <port>` line.
    pub fn start(program: &Path, args: &[String]) -> Result<Self> {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting the server {}", program.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        // Made before the first read so an early error still kills the child.
        let mut server = ChildServer {
            child,
            base: String::new(),
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("unexpected server output {line:?}"))?;
        server.base = format!("http://127.0.0.1:{port}");
        Ok(server)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
