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
        }
    }

    pub fn how_to_enable(self) -> &'static str {
        match self {
            Tool::Node => "install Node 20 and npm",
            Tool::Python => "install Python 3.11+ with pip",
            Tool::Chromium => {
                "install chromium and chromium-driver (or set CHROMIUM and CHROMEDRIVER)"
            }
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
pub const SUITES: &[Suite] = &[];
