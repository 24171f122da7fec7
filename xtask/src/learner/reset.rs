//! `cargo xtask reset LAB [--from REV] [--yes]`: put a lab back as the course shipped it.
//!
//! Which revision is "as shipped"? Not HEAD: a learner who commits their work would get
//! it back. We take the course's own branch as fetched from a remote (`upstream/main`,
//! then `origin/main`): a learner who cloned the course has it there, untouched by their
//! commits. Only when no remote branch exists do we fall back to HEAD (which still undoes
//! uncommitted changes), and `--from REV` picks any other revision. We run
//! `git restore --source=REV --staged --worktree -- labs/NN-x`: both the work tree and the
//! index match the shipped files, the learner's history is untouched (they can get their
//! work back from it), and files the learner added are left where they are.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{ui, workspace};

/// Remote branches tried in order, before HEAD.
const SHIPPED_CANDIDATES: [&str; 4] = [
    "upstream/main",
    "upstream/HEAD",
    "origin/main",
    "origin/HEAD",
];

fn git(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command.current_dir(root).args(args);
    command
}

fn revision_exists(root: &Path, rev: &str) -> bool {
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .output()
    .is_ok_and(|o| o.status.success())
}

/// The revision to restore from, and why it was chosen.
fn shipped_revision(root: &Path, from: Option<&str>) -> Result<(String, &'static str)> {
    if let Some(rev) = from {
        if !revision_exists(root, rev) {
            bail!("{rev} is not a revision of this repository: see `git log --oneline`");
        }
        return Ok((rev.to_owned(), "asked for with --from"));
    }
    for candidate in SHIPPED_CANDIDATES {
        if revision_exists(root, candidate) {
            return Ok((candidate.to_owned(), "the course's branch as fetched"));
        }
    }
    if revision_exists(root, "HEAD") {
        return Ok((
            "HEAD".into(),
            "no remote branch, so your last commit: uncommitted changes are undone",
        ));
    }
    bail!(
        "this folder is not a git clone of the course, so there is nothing to restore from: clone the course again and copy the lab's folder from it"
    )
}

pub fn reset(lab: &str, from: Option<&str>, yes: bool) -> Result<()> {
    let lab = workspace::find_lab(lab)?;
    reset_in(&workspace::root(), &lab.dir_name, from, yes)
}

/// Restores `labs/<dir_name>` in the repository at `root`.
fn reset_in(root: &Path, dir_name: &str, from: Option<&str>, yes: bool) -> Result<()> {
    let path = format!("labs/{dir_name}");
    let (rev, why) = shipped_revision(root, from)?;
    let diff = git(root, &["diff", "--stat", &rev, "--", &path])
        .output()
        .context("running git diff")?;
    let changes = String::from_utf8_lossy(&diff.stdout);
    if diff.status.success() && changes.trim().is_empty() {
        println!("{path} is already as shipped in {rev}: nothing to do.");
        return Ok(());
    }
    println!("This restores {path} from {rev} ({why}); your changes to these files are lost:");
    println!("{changes}");
    if !yes && !confirm()? {
        println!("Nothing changed.");
        return Ok(());
    }
    let status = git(
        root,
        &[
            "restore",
            &format!("--source={rev}"),
            "--staged",
            "--worktree",
            "--",
            &path,
        ],
    )
    .status()
    .context("running git restore")?;
    if !status.success() {
        bail!("git restore failed (see above); nothing else was changed");
    }
    println!(
        "{} {path} is as shipped. Your earlier commits still hold your work (`git log -- {path}`).",
        ui::green("restored:")
    );
    Ok(())
}

fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not asking on a non-interactive input: run again with --yes to confirm");
    }
    print!("Restore it? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(root: &Path, args: &[&str]) {
        let ok = git(
            root,
            &["-c", "user.name=t", "-c", "user.email=t@example.com"],
        )
        .args(args)
        .output()
        .unwrap()
        .status
        .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_lab_comes_back_from_the_course_branch_not_from_the_learners_commit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let lib = root.join("labs/01-x/src/lib.rs");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, "shipped").unwrap();
        run(root, &["init", "--quiet"]);
        run(root, &["add", "."]);
        run(root, &["commit", "--quiet", "-m", "course"]);
        // What a clone has: the course's branch as fetched from its remote.
        run(root, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
        std::fs::write(&lib, "learner's work").unwrap();
        run(root, &["commit", "--quiet", "-am", "my work"]);
        std::fs::write(&lib, "more work, not committed").unwrap();

        reset_in(root, "01-x", None, true).unwrap();
        assert_eq!(std::fs::read_to_string(&lib).unwrap(), "shipped");
        assert!(reset_in(root, "01-x", Some("no-such-rev"), true).is_err());
    }
}
