//! Suites that need more than Rust and Docker: interop clients (Node, Python) and the
//! browser (Chromium). `verify` runs each one whose tools are present; otherwise it
//! reports it as not run, with how to enable it, or fails under `COURSE_REQUIRE_ALL=1`.
//!
//! A suite is an ordinary Rust test target behind a cargo feature (so plain `cargo test`
//! never needs Node or a browser), run as `cargo test -p PACKAGE --features F --test T`.

/// A tool a suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Node,
    Python,
    Chromium,
    /// Prometheus' `promtool`, which lints a `/metrics` page.
    Promtool,
    /// HAProxy, the load balancer in front of chapter 5's cluster.
    Haproxy,
}

impl Tool {
    pub fn present(self) -> bool {
        match self {
            Tool::Node => crate::doctor::has("node") && crate::doctor::has("npm"),
            Tool::Python => crate::doctor::has("python3"),
            Tool::Chromium => {
                crate::doctor::has(&crate::doctor::chromium())
                    && crate::doctor::has(&crate::doctor::chromedriver())
            }
            Tool::Promtool => crate::doctor::has("promtool"),
            Tool::Haproxy => crate::doctor::has("haproxy"),
        }
    }

    pub fn how_to_enable(self) -> &'static str {
        match self {
            Tool::Node => "install Node 20 and npm",
            Tool::Python => "install Python 3.11+ with pip",
            Tool::Chromium => {
                "install chromium and chromium-driver (or set CHROMIUM and CHROMEDRIVER)"
            }
            Tool::Promtool => "install Debian's prometheus package (it has promtool)",
            Tool::Haproxy => "install Debian's haproxy package",
        }
    }
}

/// One suite: a feature-gated test target of a solution package.
pub struct Suite {
    pub name: &'static str,
    pub package: &'static str,
    pub feature: &'static str,
    pub test: &'static str,
    pub needs: &'static [Tool],
    /// Installs what the suite needs (npm or pip packages, into `target/interop/`).
    pub prepare: fn() -> anyhow::Result<()>,
}

/// For suites that need nothing installed.
pub fn nothing_to_prepare() -> anyhow::Result<()> {
    Ok(())
}

/// `target/interop/`: where verify installs npm and pip packages for the suites
/// (the workspace's own `target/`, whatever CARGO_TARGET_DIR says).
pub fn interop_dir() -> std::path::PathBuf {
    crate::workspace::root().join("target/interop")
}

/// Every suite of the course. Chapters add theirs here.
pub const SUITES: &[Suite] = &[
    // Chapter 2: the official JavaScript client and python-socketio against the solution.
    Suite {
        name: "chapter 2 interop: socket.io-client (Node) and python-socketio",
        package: "solution-02-socketio",
        feature: "interop",
        test: "interop",
        needs: &[Tool::Node, Tool::Python],
        prepare: prepare_chapter2_interop,
    },
    // Chapter 3: a Node instance with Node's own Redis adapter in a cluster of Rust instances.
    Suite {
        name: "chapter 3 interop: a Node socket.io 4.8 + @socket.io/redis-adapter 8.3 instance in a Rust cluster",
        package: "solution-03-scaling",
        feature: "interop",
        test: "interop",
        needs: &[Tool::Node],
        prepare: prepare_chapter3_interop,
    },
    // Chapter 4: the official JavaScript client over wss://, with a token.
    Suite {
        name: "chapter 4 interop: socket.io-client (Node) over wss:// with a token",
        package: "solution-04-security",
        feature: "interop",
        test: "interop",
        needs: &[Tool::Node],
        prepare: prepare_socket_io_client,
    },
    // Chapter 5: the official client recovers its session (memory store, Redis store across
    // instances that leave one after the other, and not after the window).
    Suite {
        name: "chapter 5 interop: socket.io-client (Node) recovers its session",
        package: "solution-05-production",
        feature: "interop",
        test: "interop",
        needs: &[Tool::Node],
        prepare: prepare_socket_io_client,
    },
    // Chapter 5: HAProxy with the lab's configuration in front of three instances: sticky
    // polling, and a rolling restart that loses no recoverable message.
    Suite {
        name: "chapter 5 behind HAProxy: sticky polling, a rolling restart",
        package: "solution-05-production",
        feature: "balancer",
        test: "balancer",
        needs: &[Tool::Haproxy],
        prepare: nothing_to_prepare,
    },
    // Chapter 4: `/metrics` after a scripted session, linted by Prometheus' own promtool.
    Suite {
        name: "chapter 4 metrics checked by promtool",
        package: "solution-04-security",
        feature: "promtool",
        test: "promtool",
        needs: &[Tool::Promtool],
        prepare: nothing_to_prepare,
    },
    // Chapter 1: the demo page in headless Chromium (EventSource and WebSocket for real).
    Suite {
        name: "chapter 1 in a real browser",
        package: "solution-01-transports",
        feature: "browser",
        test: "browser",
        needs: &[Tool::Chromium],
        prepare: nothing_to_prepare,
    },
    // The book: every live panel against each chapter's solution (data shown) and its lab as
    // shipped ("step N is not done yet"), with no JavaScript error.
    Suite {
        name: "the book's live panels in a real browser",
        package: "xtask",
        feature: "browser",
        test: "panels",
        needs: &[Tool::Chromium],
        prepare: nothing_to_prepare,
    },
];

/// The npm and pip packages of chapter 2's interop suite, each installed once into
/// `target/interop/` (skipped when the wanted version is already there).
fn prepare_chapter2_interop() -> anyhow::Result<()> {
    prepare_socket_io_client()?;
    prepare_python_socketio()
}

/// The version of npm package `name` installed under `prefix`, if any.
fn npm_version(prefix: &std::path::Path, name: &str) -> Option<String> {
    let manifest = prefix.join("node_modules").join(name).join("package.json");
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned))
}

/// `socket.io-client` 4.8 into `target/interop/node/node_modules`.
fn prepare_socket_io_client() -> anyhow::Result<()> {
    let prefix = interop_dir().join("node");
    let installed = npm_version(&prefix, "socket.io-client");
    if installed.as_deref().is_some_and(|v| v.starts_with("4.8.")) {
        return Ok(());
    }
    std::fs::create_dir_all(&prefix)?;
    run_installer(
        std::process::Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "socket.io-client@4.8"]),
        "npm install socket.io-client@4.8",
    )
}

/// Chapter 3's Node instance and its clients into `target/interop/node-cluster/node_modules`
/// (a prefix of its own, so chapter 2's install is left alone): the server, Node's Redis
/// adapter, node-redis (the client the adapter's README uses) and the official client.
fn prepare_chapter3_interop() -> anyhow::Result<()> {
    const WANTED: [(&str, &str); 4] = [
        ("socket.io", "4.8"),
        ("@socket.io/redis-adapter", "8.3"),
        ("redis", "4"),
        ("socket.io-client", "4.8"),
    ];
    let prefix = interop_dir().join("node-cluster");
    let present = WANTED.iter().all(|(name, version)| {
        npm_version(&prefix, name).is_some_and(|v| v.starts_with(&format!("{version}.")))
    });
    if present {
        return Ok(());
    }
    std::fs::create_dir_all(&prefix)?;
    let specs: Vec<String> = WANTED
        .iter()
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    run_installer(
        std::process::Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund"])
            .args(&specs),
        &format!("npm install {}", specs.join(" ")),
    )
}

/// `python-socketio` 5 with its asyncio client (and aiohttp) into `target/interop/python`.
fn prepare_python_socketio() -> anyhow::Result<()> {
    let target = interop_dir().join("python");
    let has_dist = |prefix: &str| {
        std::fs::read_dir(&target).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(prefix) && name.ends_with(".dist-info")
            })
        })
    };
    if has_dist("python_socketio-5.") && has_dist("aiohttp-") {
        return Ok(());
    }
    std::fs::create_dir_all(&target)?;
    run_installer(
        std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&target)
            .args(["python-socketio[asyncio_client]==5.*", "aiohttp"]),
        "pip install python-socketio",
    )
}

fn run_installer(command: &mut std::process::Command, what: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    println!("installing for the interop suites: {what}");
    let status = command
        .status()
        .with_context(|| format!("could not run {what}"))?;
    anyhow::ensure!(
        status.success(),
        "{what} failed ({status}): is the registry reachable? see the output above"
    );
    Ok(())
}
