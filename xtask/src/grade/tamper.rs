//! Which of a submission's tests, test helpers and step metadata differ from the course's.
//!
//! Compared byte for byte before the pristine files are laid over the copy. A difference
//! does not change the score (the pristine tests run either way); it is flagged so the
//! instructor can ask the learner about it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Relative to the course root, with `/` separators.
    pub path: String,
    /// `modified`, `deleted` or `added`.
    pub change: &'static str,
}

/// Every file under the pristine paths that differs between the course and the submission.
pub fn differences(course: &Path, submission: &Path, paths: &[PathBuf]) -> Result<Vec<Difference>> {
    let mut files = BTreeSet::new();
    for relative in paths {
        files.extend(files_under(course, relative)?);
        files.extend(files_under(submission, relative)?);
    }
    let mut found = Vec::new();
    for file in files {
        let pristine = std::fs::read(course.join(&file)).ok();
        let theirs = std::fs::read(submission.join(&file)).ok();
        let change = match (pristine, theirs) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => "modified",
            (Some(_), None) => "deleted",
            (None, Some(_)) => "added",
            (None, None) => continue,
        };
        found.push(Difference {
            path: file.to_string_lossy().replace('\\', "/"),
            change,
        });
    }
    Ok(found)
}

/// Files a test run leaves behind on one machine (insta's pending snapshots): neither the
/// course's nor the learner's work, so they never count as a change.
fn is_local_byproduct(name: &str) -> bool {
    name.ends_with(".snap.new") || name.ends_with(".pending-snap")
}

/// Files (relative to `root`) at or under `relative`, build output and local by-products
/// excluded.
fn files_under(root: &Path, relative: &Path) -> Result<Vec<PathBuf>> {
    let start = root.join(relative);
    if start.is_file() {
        return Ok(vec![relative.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut stack = vec![relative.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if name == "target" || is_local_byproduct(&name.to_string_lossy()) {
                continue;
            }
            let path = dir.join(&name);
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_snapshots_are_not_changes() {
        assert!(is_local_byproduct("transports__sse_stream.snap.new"));
        assert!(is_local_byproduct(".socketio.pending-snap"));
        assert!(!is_local_byproduct("transports__sse_stream.snap"));
    }

    #[test]
    fn modified_deleted_and_added_files_are_found() {
        let course = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        for (root, files) in [
            (
                course.path(),
                vec![
                    ("labs/01/tests/t.rs", "a"),
                    ("labs/01/tests/h.rs", "h"),
                    ("labs/01/steps.toml", "s"),
                ],
            ),
            (
                theirs.path(),
                vec![
                    ("labs/01/tests/t.rs", "b"),
                    ("labs/01/tests/new.rs", "n"),
                    ("labs/01/steps.toml", "s"),
                ],
            ),
        ] {
            for (file, text) in files {
                std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
                std::fs::write(root.join(file), text).unwrap();
            }
        }
        let paths = [
            PathBuf::from("labs/01/tests"),
            PathBuf::from("labs/01/steps.toml"),
        ];
        let found = differences(course.path(), theirs.path(), &paths).unwrap();
        let shown: Vec<_> = found
            .iter()
            .map(|d| format!("{} {}", d.change, d.path))
            .collect();
        assert_eq!(
            shown,
            vec![
                "deleted labs/01/tests/h.rs",
                "added labs/01/tests/new.rs",
                "modified labs/01/tests/t.rs"
            ]
        );
    }
}
