//! The `source:` line of a lab's insta snapshots, kept pointing at the lab's test file.
//!
//! Lab and solution run the same test file, and insta records the path rustc was given
//! for it. From the solution that path is `solutions/NN-x/../../labs/NN-x/tests/...`,
//! which would send a learner reading the snapshot into the solutions folder. insta has
//! no setting for that line (it compares contents only and rewrites the header only
//! when it writes a snapshot), so `derive` resolves the `..` in it and `derive --check`
//! (run by `verify`) reports a header that needs it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::workspace::Lab;

/// The snapshot's text with its `source:` path resolved, or `None` when it is clean.
pub fn normalise(text: &str) -> Option<String> {
    let mut changed = false;
    let mut in_header = false;
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line == "---" {
            in_header = i == 0;
        }
        match line.strip_prefix("source: ") {
            Some(path) if in_header && path.contains("..") => {
                out.push(format!("source: {}", resolve(path)));
                changed = true;
            }
            _ => out.push(line.to_owned()),
        }
    }
    changed.then(|| out.join("\n"))
}

/// `a/b/../../c/d` -> `c/d`, lexically (the path is relative to the workspace root).
fn resolve(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            "." | "" => {}
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The lab's snapshot files whose header names the solution's path.
pub fn stale(lab: &Lab) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for file in snapshot_files(lab)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        if normalise(&text).is_some() {
            out.push(file);
        }
    }
    Ok(out)
}

/// Rewrites the headers [`stale`] lists; nothing else in the files changes.
pub fn fix(lab: &Lab) -> Result<usize> {
    let files = stale(lab)?;
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        if let Some(clean) = normalise(&text) {
            std::fs::write(file, clean).with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(files.len())
}

fn snapshot_files(lab: &Lab) -> Result<Vec<PathBuf>> {
    let dir: &Path = &lab.dir.join("tests/snapshots");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn the_solutions_path_becomes_the_labs_and_nothing_else_changes() {
        let snap = "---\nsource: solutions/01-transports/../../labs/01-transports/tests/transports.rs\nexpression: x\n---\nsource: ../body stays\n";
        assert_eq!(
            normalise(snap).as_deref(),
            Some(
                "---\nsource: labs/01-transports/tests/transports.rs\nexpression: x\n---\nsource: ../body stays\n"
            )
        );
        let clean = "---\nsource: labs/01-transports/tests/transports.rs\n---\nbody\n";
        assert_eq!(normalise(clean), None);
    }
}
