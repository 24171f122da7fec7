//! The third provider: a `redis-server` found on `PATH`, started by the kit for one test.
//!
//! For a learner without Docker who has Redis installed (`apt install redis-server`,
//! `brew install redis`): the tests start their own server, as they would a container.
//! Each server gets a free port, a private temporary directory, no persistence
//! (`--save "" --appendonly no`), and is waited for with a PING.
//!
//! It must never outlive the tests. Dropping the handle stops it, but a handle held in a
//! `static`, or a test process that is killed, never drops anything. So the server runs
//! under a tiny `sh` watchdog that reads its stdin, a pipe only the test process holds:
//! when that process ends, however it ends, the kernel closes the pipe, `read` returns,
//! and the watchdog stops the server. (`prctl(PR_SET_PDEATHSIG)` would need `unsafe`
//! in `pre_exec`, which the course forbids, and exists on Linux only.)

use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a freshly started `redis-server` may take to answer PING.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// The watchdog. `sh` keeps its stdin as fd 3, starts the server, and a subshell blocks
/// reading fd 3: at end of file it stops the server. The main shell waits for the server,
/// so the watchdog exits when the server does (a taken port shows up at once).
const WATCHDOG: &str = r#"server="$1"; shift
exec 3<&0
"$server" "$@" 3<&- &
pid=$!
( read -r _ignored <&3; kill "$pid" 2>/dev/null ) &
wait "$pid""#;

/// The first `redis-server` on `PATH` (the value given, so tests can pass their own).
pub fn find_on_path(path: Option<OsString>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// A running `redis-server` under its watchdog.
pub struct LocalRedis {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    running: Mutex<Option<Running>>,
}

struct Running {
    watchdog: Child,
    /// Dropping this closes the pipe: the watchdog's `read` returns and it stops the server.
    stdin: Option<ChildStdin>,
}

impl LocalRedis {
    /// Starts `binary` on a free port and waits until it answers PING.
    pub async fn start(binary: PathBuf) -> Result<LocalRedis, String> {
        let dir = tempfile::Builder::new()
            .prefix("course-redis-")
            .tempdir()
            .map_err(|e| format!("could not create a temporary directory for redis-server: {e}"))?;
        let port = free_port()?;
        let server = LocalRedis {
            binary,
            port,
            dir,
            running: Mutex::new(None),
        };
        server.launch().await?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The watchdog's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        let running = self.running.lock().expect("not poisoned");
        running.as_ref().map(|r| r.watchdog.id())
    }

    /// Starts the server again after [`LocalRedis::stop`], on the same port, empty.
    pub async fn launch(&self) -> Result<(), String> {
        let log_path = self.dir.path().join("redis.log");
        let log = File::create(&log_path).map_err(|e| format!("creating {log_path:?}: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("duplicating the log file handle: {e}"))?;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("could not run `sh` to start {:?}: {e}", self.binary))?;
        let stdin = watchdog.stdin.take();
        *self.running.lock().expect("not poisoned") = Some(Running { watchdog, stdin });
        if let Err(why) = self.wait_ready().await {
            self.stop();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "{:?} did not answer PING on port {} within {READY_LIMIT:?}: {why}\nits log:\n{}",
                self.binary,
                self.port,
                last_lines(&log, 15)
            ));
        }
        Ok(())
    }

    /// PING until PONG. Polling is the only way to learn that another process is
    /// listening; each try is short and the whole wait is bounded.
    async fn wait_ready(&self) -> Result<(), String> {
        let url = format!("redis://127.0.0.1:{}", self.port);
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + READY_LIMIT;
        let mut last_error = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Err(format!("redis-server exited ({status})"));
            }
            match tokio::time::timeout(Duration::from_secs(1), ping(&client)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "PING timed out".into(),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(last_error)
    }

    fn exited(&self) -> Option<String> {
        let mut running = self.running.lock().expect("not poisoned");
        let watchdog = &mut running.as_mut()?.watchdog;
        match watchdog.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// Closes the watchdog's stdin and waits for it: it stops the server and exits.
    pub fn stop(&self) {
        let Some(mut running) = self.running.lock().expect("not poisoned").take() else {
            return;
        };
        drop(running.stdin.take());
        let _ = running.watchdog.wait();
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn ping(client: &redis::Client) -> Result<(), String> {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(format!("PING answered {pong:?}"))
    }
}

/// A port nobody listens on right now. Another process could take it before Redis
/// binds it; then Redis exits and `wait_ready` reports it with Redis's log.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("could not find a free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| e.to_string())
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_server_is_found_only_where_path_points() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_on_path(Some(dir.path().into())), None);
        assert_eq!(find_on_path(None), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let fake = dir.path().join("redis-server");
            std::fs::write(&fake, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(
                find_on_path(Some(dir.path().into())),
                None,
                "a file that is not executable is not a redis-server"
            );
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(find_on_path(Some(dir.path().into())), Some(fake));
        }
    }
}
