//! `cargo xtask bench ...`: the measurements behind the book's tables.
//!
//! Each bench writes a Markdown table into `book/measurements/`, stamped with the machine
//! and the date, which the chapter page includes. Numbers in the book come from here.

mod transports;

use anyhow::Result;
use clap::Subcommand;

mod chat_load;
mod child;
mod contenders;
mod redis_child;
mod security_layers;
mod socketio;
mod socketio_cluster;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Bytes per message and latency for short polling, long polling, SSE and WebSocket.
    Transports,
    /// The course's Socket.IO server against socketioxide and Node socket.io, alternating.
    Socketio(socketio::Args),
    /// Loss, latency split by instance, Redis traffic and CPU of chapter 3's cluster.
    SocketioCluster(socketio_cluster::Args),
    /// What chapter 4's layers cost: the same load with them on and off (chapter 3), alternately.
    Security(security_layers::Args),
}

pub fn run(what: BenchCommand) -> Result<()> {
    // The clients run in this process: in a debug build their own decoding and timestamping
    // add milliseconds to every latency measured. Measure from a release build of xtask.
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    match what {
        BenchCommand::Transports => transports::run(),
        BenchCommand::Socketio(args) => socketio::run(args),
        BenchCommand::SocketioCluster(args) => socketio_cluster::run(args),
        BenchCommand::Security(args) => security_layers::run(args),
    }
}

/// Runs this same `cargo xtask bench ...` command line again from a release build of xtask.
fn rerun_in_release() -> Result<()> {
    crate::ui::step("the bench's clients measure from a release build: building xtask --release");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .current_dir(crate::workspace::root())
        .status()?;
    anyhow::ensure!(status.success(), "the release bench failed ({status})");
    Ok(())
}

/// Today's date (UTC, `YYYY-MM-DD`), empty if `date` cannot tell.
pub fn today() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// One line naming the machine and the date, printed under every table.
pub fn machine_stamp() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let date = today();
    format!(
        "{cpus} CPU(s), {model}, {} {}, measured {date}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
