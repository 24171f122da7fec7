//! The processes the Socket.IO benches measure: release builds started as children, read from
//! `/proc` (CPU time, resident memory) so their figures are theirs and not the bench's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{ui, workspace};

/// `cargo build --release -p PACKAGE`, and the path of its binary (named as the package).
pub(super) fn build_release(package: &str) -> Result<PathBuf> {
    ui::step(&format!("building {package} (release)"));
    let status = workspace::cargo()
        .args(["build", "--release", "-p", package])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "building {package} failed: see above");
    let binary = target_dir().join("release").join(package);
    ensure!(binary.exists(), "no binary at {}", binary.display());
    Ok(binary)
}

/// The workspace's target directory (`CARGO_TARGET_DIR` if set).
pub(super) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace::root().join(dir)
            }
        })
        .unwrap_or_else(|| workspace::root().join("target"))
}

/// Each connection is a file descriptor in the bench *and* in the server (which inherits our
/// limit). Raise the soft limit up to the hard one; if that is not enough, say how to fix it.
pub(super) fn raise_open_files_limit(clients: usize) -> Result<()> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let needed = clients as u64 + 256;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return Ok(());
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if hard < needed {
        bail!(
            "{clients} clients need about {needed} open files, but this shell allows {soft} \
             (hard limit {hard}). Raise it (e.g. `ulimit -n {needed}` as a user allowed to, or in \
             /etc/security/limits.conf), or pass a smaller --clients."
        );
    }
    let raised = rustix::process::Rlimit {
        current: Some(needed),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).with_context(|| {
        format!("raising the open-files limit from {soft} to {needed}: try `ulimit -n {needed}`")
    })?;
    Ok(())
}

/// A server as a child process, killed when dropped.
pub(super) struct Server {
    child: tokio::process::Child,
    pub(super) addr: String,
}

impl Server {
    /// Starts `binary` with `extra` arguments after `--addr 127.0.0.1:0` (`--redis URL`);
    /// `ping_interval_ms` overrides socket.io's 25 s (`PING_INTERVAL_MS`).
    pub(super) async fn start_with(
        binary: &Path,
        extra: &[&str],
        ping_interval_ms: Option<u64>,
    ) -> Result<Server> {
        let mut command = tokio::process::Command::new(binary);
        command.args(["--addr", "127.0.0.1:0"]).args(extra);
        Server::spawn(command, ping_interval_ms).await
    }

    /// Starts `command`, which already has its arguments (`--addr 127.0.0.1:0` among them), and
    /// waits for it to print `listening on http://ADDR`.
    pub(super) async fn spawn(
        mut command: tokio::process::Command,
        ping_interval_ms: Option<u64>,
    ) -> Result<Server> {
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        if let Some(ms) = ping_interval_ms {
            command.env("PING_INTERVAL_MS", ms.to_string());
        }
        let mut child = command
            // One log line per connection would cost the server more than the chat itself.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                    return Ok(addr.trim_end_matches('/').to_owned());
                }
            }
            bail!("the server exited before printing `listening on http://ADDR`")
        })
        .await
        .map_err(|_| {
            anyhow!("the server did not print `listening on http://ADDR` within 20 s")
        })??;
        ensure!(
            addr.starts_with("127.0.0.1:"),
            "the bench only runs on 127.0.0.1, got {addr}"
        );
        // Keep reading its output so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, addr })
    }

    /// CPU time the server process has used so far, user + system.
    pub(super) fn cpu_time(&self) -> Result<Duration> {
        cpu_time(self.child.id().context("the server has exited")?)
    }

    /// Resident memory of the server process, in KiB.
    pub(super) fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.child.id().context("the server has exited")?)
    }
}

/// CPU time process `pid` has used so far, user + system (`/proc/PID/stat`).
pub(super) fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("reading /proc/PID/stat (the bench needs Linux)")?;
    // The command name (field 2) may hold spaces: count fields after its closing `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()
        .context("no utime/stime in /proc/PID/stat")?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second() as f64,
    ))
}

/// Resident memory of process `pid`, in KiB (`VmRSS` in /proc/PID/status).
pub(super) fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (the bench needs Linux)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// The unit of `/proc/PID/stat`'s times (`getconf CLK_TCK`, 100 on Linux unless told otherwise).
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// `/proc/loadavg`'s three averages: other work on the machine skews latency.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// On a machine of two CPUs or more, the CPU the server under test gets to itself, after this
/// process (the clients) is confined to the others: each server then runs on exactly one core,
/// and the clients' work no longer queues in front of it. `None` on a single CPU.
pub(super) fn split_cpus() -> Result<Option<usize>> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let allowed = sched_getaffinity(None).context("reading this process's CPU affinity")?;
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&i| allowed.is_set(i))
        .collect();
    let Some((&server, clients)) = cpus.split_last().filter(|(_, rest)| !rest.is_empty()) else {
        return Ok(None);
    };
    let mut ours = CpuSet::new();
    for &cpu in clients {
        ours.set(cpu);
    }
    sched_setaffinity(None, &ours).context("confining the bench's clients to their CPUs")?;
    Ok(Some(server))
}
