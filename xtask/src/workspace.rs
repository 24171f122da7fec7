//! Where things are: the workspace root, the labs and their solutions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the xtask crate's parent), whatever the current directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Where cargo builds: CARGO_TARGET_DIR when set, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root().join("target"),
    }
}

/// A chapter's lab and solution, found on disk.
#[derive(Debug, Clone)]
pub struct Lab {
    /// `01-transports`
    pub dir_name: String,
    /// `labs/01-transports`
    pub dir: PathBuf,
    /// `lab-01-transports`
    pub package: String,
    /// `solution-01-transports`
    pub solution_package: String,
    /// `solutions/01-transports`
    pub solution_dir: PathBuf,
}

impl Lab {
    /// How the learner commands spell this lab: its number as the folder writes it,
    /// `01` (`find_lab` also accepts `01-transports` and `lab-01-transports`).
    pub fn arg(&self) -> String {
        self.dir_name
            .split('-')
            .next()
            .unwrap_or(&self.dir_name)
            .to_owned()
    }
}

/// Every lab under `labs/` (the support crate excluded), in chapter order.
pub fn labs() -> Result<Vec<Lab>> {
    labs_in(&root())
}

/// Every lab of the course rooted at `root` (the grader reads a pristine course elsewhere).
pub fn labs_in(root: &Path) -> Result<Vec<Lab>> {
    let mut labs = Vec::new();
    for entry in std::fs::read_dir(root.join("labs")).context("reading labs/")? {
        let entry = entry?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let starts_with_number = dir_name.chars().next().is_some_and(|c| c.is_ascii_digit());
        if !starts_with_number || !entry.path().join("Cargo.toml").exists() {
            continue;
        }
        labs.push(Lab {
            package: format!("lab-{dir_name}"),
            solution_package: format!("solution-{dir_name}"),
            solution_dir: root.join("solutions").join(&dir_name),
            dir: entry.path(),
            dir_name,
        });
    }
    labs.sort_by(|a, b| a.dir_name.cmp(&b.dir_name));
    Ok(labs)
}

/// Finds a lab by number (`1`, `01`), directory name (`01-transports`) or package name.
pub fn find_lab(query: &str) -> Result<Lab> {
    let labs = labs()?;
    let wanted = query.trim_start_matches("lab-");
    let by_number = wanted.parse::<u32>().ok();
    for lab in &labs {
        let number = lab
            .dir_name
            .split('-')
            .next()
            .and_then(|n| n.parse::<u32>().ok());
        if lab.dir_name == wanted || (by_number.is_some() && number == by_number) {
            return Ok(lab.clone());
        }
    }
    let names: Vec<_> = labs.iter().map(|l| l.dir_name.as_str()).collect();
    bail!(
        "no lab matches {query:?}; the labs are: {}",
        names.join(", ")
    )
}

/// A `cargo` command run from the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// The directory of a package, found with `cargo metadata` (works for registry crates).
pub fn package_dir(package: &str) -> Result<PathBuf> {
    let output = cargo()
        .args(["metadata", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    for candidate in packages {
        if candidate["name"] == package {
            let manifest = candidate["manifest_path"]
                .as_str()
                .context("no manifest_path")?;
            return Ok(Path::new(manifest)
                .parent()
                .context("a manifest has a parent directory")?
                .to_path_buf());
        }
    }
    bail!("package {package} is not in the dependency graph; run `cargo fetch`")
}
