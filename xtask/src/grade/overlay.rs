//! A submission's working copy, and the course's pristine files laid over it.
//!
//! We never touch the submission itself: it is copied (or cloned, for a git URL) to
//! `<out>/<name>/work`, and the copy gets the pristine files. What is pristine: each lab's
//! `tests/` folder (tests, helpers, snapshots) and `steps.toml`, and the support crate
//! `labs/kit/` the tests stand on. Not the workspace or lab `Cargo.toml`/`Cargo.lock`: a
//! learner may rightly add a dependency, and the tests are still the course's, because
//! we only run test binaries built from the pristine `tests/` folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::Lab;

/// Folders never copied: build output, VCS data, earlier grading runs, installed packages.
const SKIPPED: [&str; 4] = ["target", ".git", "grading", "node_modules"];

/// The pristine paths (relative to the course root) for these labs: `(path, is_dir)`.
pub fn pristine_paths(labs: &[Lab]) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("labs/kit")];
    for lab in labs {
        paths.push(Path::new("labs").join(&lab.dir_name).join("tests"));
        paths.push(Path::new("labs").join(&lab.dir_name).join("steps.toml"));
    }
    paths
}

/// Is this submission a git repository to clone rather than a folder to copy?
pub fn is_git_source(source: &str) -> bool {
    let path = Path::new(source);
    source.contains("://")
        || (path.is_dir() && path.join("HEAD").is_file() && path.join("objects").is_dir())
        || (!path.join("Cargo.toml").exists() && source.ends_with(".git"))
}

/// Makes `work` a fresh copy of the submission.
pub fn copy_submission(source: &str, work: &Path) -> Result<()> {
    if work.exists() {
        std::fs::remove_dir_all(work)
            .with_context(|| format!("removing the previous copy {}", work.display()))?;
    }
    if is_git_source(source) {
        let status = Command::new("git")
            .args(["clone", "--quiet", "--depth", "1", source])
            .arg(work)
            .status()
            .context("running git clone")?;
        if !status.success() {
            bail!("git could not clone {source} (see above)");
        }
        return Ok(());
    }
    let source = Path::new(source);
    if !source.join("Cargo.toml").is_file() {
        bail!(
            "{} is not a copy of the course (no Cargo.toml): pass a clone of the course with the learner's work",
            source.display()
        );
    }
    copy_tree(source, work)
}

/// Copies a folder recursively, skipping `SKIPPED` folders and symlinked folders.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if SKIPPED.iter().any(|s| name == *s) {
                continue;
            }
            copy_tree(&path, &to.join(&name))?;
        } else if path.is_file() {
            std::fs::copy(&path, to.join(&name))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Replaces the pristine paths in `work` with the course's.
pub fn lay_pristine(course: &Path, work: &Path, paths: &[PathBuf]) -> Result<()> {
    for relative in paths {
        let pristine = course.join(relative);
        let target = work.join(relative);
        if target.is_dir() {
            std::fs::remove_dir_all(&target)?;
        } else if target.exists() {
            std::fs::remove_file(&target)?;
        }
        if pristine.is_dir() {
            copy_tree(&pristine, &target)?;
        } else if pristine.is_file() {
            std::fs::create_dir_all(target.parent().expect("a path in a lab"))?;
            std::fs::copy(&pristine, &target)
                .with_context(|| format!("copying {}", pristine.display()))?;
        }
    }
    Ok(())
}
