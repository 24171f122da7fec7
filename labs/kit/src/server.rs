//! Servers under test: in-process on port 0, or a lab's binary as a child process.
//!
//! Port 0 lets the OS pick a free port, so tests run in parallel without clashing.
//! The listener is bound before the server task starts: once [`TestServer::start`]
//! returns, connections are accepted (they queue in the backlog), so no test sleeps.

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// A server running in this process, stopped when dropped.
pub struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `router` on 127.0.0.1:0.
    pub async fn start(router: axum::Router) -> TestServer {
        TestServer::start_with(|listener| async move {
            axum::serve(listener, router)
                .await
                .expect("the test server failed while serving");
        })
        .await
    }

    /// Binds 127.0.0.1:0 and hands the listener to `serve`, for servers that need more
    /// than a plain router (graceful shutdown, background tasks).
    pub async fn start_with<F, Fut>(serve: F) -> TestServer
    where
        F: FnOnce(TcpListener) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 failed: is the loopback interface up?");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let task = tokio::spawn(serve(listener));
        TestServer { addr, task }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `ws://127.0.0.1:PORT{path}`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A lab's binary started as a child process, killed when dropped.
///
/// Every lab binary prints `listening on http://ADDR` once it accepts connections;
/// [`ServerProcess::spawn`] waits for that line, so the address is the real one even
/// when the binary was given port 0.
pub struct ServerProcess {
    addr: SocketAddr,
    child: Child,
}

impl ServerProcess {
    /// Runs `command` (which should pass `--addr 127.0.0.1:0`) and waits up to `limit`
    /// for its `listening on http://ADDR` line.
    pub async fn spawn(mut command: Command, limit: Duration) -> Result<ServerProcess, String> {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {command:?}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut lines = BufReader::new(stdout).lines();
        let wait_for_line = async {
            while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
                println!("[server] {line}");
                if let Some(addr) = parse_listening_line(&line) {
                    return Ok(addr);
                }
            }
            Err("the server exited before printing `listening on http://ADDR`".to_owned())
        };
        let addr = crate::within_or(limit, wait_for_line, "`listening on http://ADDR`").await??;
        // Keep echoing the server's output so a failing test shows it.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("[server] {line}");
            }
        });
        Ok(ServerProcess { addr, child })
    }

    /// The address the child listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The child process, to send it a signal or wait for its exit.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends SIGTERM, as a deploy does, and waits up to `limit` for the process to exit.
    pub async fn terminate(&mut self, limit: Duration) -> Result<std::process::ExitStatus, String> {
        let pid = self.child.id().ok_or("the process has exited already")?;
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .map_err(|e| format!("kill could not run: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {pid} failed"));
        }
        crate::within_or(limit, self.child.wait(), "the exit after SIGTERM")
            .await?
            .map_err(|e| e.to_string())
    }
}

/// Finds the address in a `listening on http://ADDR` (or `https://ADDR`) line.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("listening on ")?;
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))?;
    rest.trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_listening_line;

    #[test]
    fn the_listening_line_gives_the_address() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:3001"),
            Some("127.0.0.1:3001".parse().unwrap())
        );
        assert_eq!(
            parse_listening_line("listening on https://127.0.0.1:3004"),
            Some("127.0.0.1:3004".parse().unwrap())
        );
        assert_eq!(parse_listening_line("starting..."), None);
    }
}
