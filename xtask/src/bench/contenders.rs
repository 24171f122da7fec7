//! The servers `cargo xtask bench socketio` compares: the course's, and what a team would pick
//! instead. Each speaks the chat contract's `join` and `chat`, listens where `--addr` says,
//! reads `PING_INTERVAL_MS`, and prints `listening on http://ADDR`, so the bench drives them
//! all alike. The comparison servers' code lives in `xtask/bench-servers/`; their libraries
//! are package dependencies, built or installed under `target/` by [`Contender::prepare`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::child::{build_release, target_dir};
use crate::{ui, workspace};

/// socket.io's npm version the Node server runs.
const NODE_SOCKET_IO: &str = "4.8";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Contender {
    /// The course's reference server: chapter 2's solution.
    Course,
    /// socketioxide 0.18 (Rust, on axum).
    Socketioxide,
    /// socket.io 4.8 on Node.
    Node,
}

/// How to start a contender, once built.
pub(super) struct Launch {
    program: PathBuf,
    args: Vec<String>,
    node_path: Option<PathBuf>,
}

impl Contender {
    /// The column heading in the tables.
    pub(super) fn label(self) -> &'static str {
        match self {
            Contender::Course => "course (ch. 2)",
            Contender::Socketioxide => "socketioxide 0.18",
            Contender::Node => "Node socket.io 4.8",
        }
    }

    /// Builds or installs the contender; `course_binary` replaces the solution's build.
    pub(super) fn prepare(self, course_binary: Option<&Path>) -> Result<Launch> {
        match self {
            Contender::Course => Ok(Launch {
                program: match course_binary {
                    Some(path) => path.to_owned(),
                    None => build_release("solution-02-socketio")?,
                },
                args: Vec::new(),
                node_path: None,
            }),
            Contender::Socketioxide => Ok(Launch {
                program: build_socketioxide()?,
                args: Vec::new(),
                node_path: None,
            }),
            Contender::Node => Ok(Launch {
                program: PathBuf::from("node"),
                args: vec![servers_dir().join("node/server.js").display().to_string()],
                node_path: Some(install_node_socket_io()?),
            }),
        }
    }
}

impl Launch {
    /// The command that starts this contender on 127.0.0.1, on a port of the system's choice,
    /// and on CPU `pin` alone if given (`taskset` sets it before the program starts, so every
    /// thread the server makes inherits it, and a Rust runtime sizes itself to one core).
    pub(super) fn command(&self, pin: Option<usize>) -> tokio::process::Command {
        let mut command = match pin {
            Some(cpu) => {
                let mut taskset = tokio::process::Command::new("taskset");
                taskset.args(["-c", &cpu.to_string()]).arg(&self.program);
                taskset
            }
            None => tokio::process::Command::new(&self.program),
        };
        command.args(&self.args).args(["--addr", "127.0.0.1:0"]);
        if let Some(path) = &self.node_path {
            command.env("NODE_PATH", path);
        }
        command
    }
}

fn servers_dir() -> PathBuf {
    workspace::root().join("xtask/bench-servers")
}

/// Where the comparison servers are built and installed: under the workspace's target.
fn build_dir() -> PathBuf {
    target_dir().join("bench-servers")
}

/// `cargo build --release` of `xtask/bench-servers/socketioxide` (a workspace of its own, with
/// its own lockfile, so learners never compile socketioxide).
fn build_socketioxide() -> Result<PathBuf> {
    ui::step("building the socketioxide chat server (release)");
    let manifest = servers_dir().join("socketioxide/Cargo.toml");
    let status = workspace::cargo()
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(build_dir())
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "building {} failed: see above",
        manifest.display()
    );
    let binary = build_dir().join("release/bench-socketioxide-chat");
    ensure!(binary.exists(), "no binary at {}", binary.display());
    Ok(binary)
}

/// `npm install socket.io@4.8` under `target/bench-servers/node`, unless it is there already;
/// returns the `node_modules` folder for `NODE_PATH`.
fn install_node_socket_io() -> Result<PathBuf> {
    let prefix = build_dir().join("node");
    let modules = prefix.join("node_modules");
    let installed = std::fs::read_to_string(modules.join("socket.io/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned));
    if installed.is_some_and(|v| v.starts_with(&format!("{NODE_SOCKET_IO}."))) {
        return Ok(modules);
    }
    ui::step(&format!("npm install socket.io@{NODE_SOCKET_IO}"));
    std::fs::create_dir_all(&prefix)?;
    let status = std::process::Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&prefix)
        .args(["--no-audit", "--no-fund"])
        .arg(format!("socket.io@{NODE_SOCKET_IO}"))
        .status()
        .context("running npm (the Node contender needs Node and npm)")?;
    ensure!(
        status.success(),
        "npm install socket.io@{NODE_SOCKET_IO} failed: see above"
    );
    Ok(modules)
}
