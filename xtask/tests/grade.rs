//! The grader, run as learners' instructors run it, on the fixture course in
//! `tests/fixtures/` (see its README): scores, flags, time limits and reports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The pristine course with one variant's files laid over it, as a learner's clone.
fn submission(root: &Path, variant: &str) -> PathBuf {
    let dir = root.join(variant);
    copy_tree(&fixtures().join("course"), &dir);
    copy_tree(&fixtures().join("submissions").join(variant), &dir);
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=learner",
            "-c",
            "user.email=learner@example.com",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

fn report<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no report for {name} in {summary:#}"))
}

fn step_outcome(report: &serde_json::Value, step: usize) -> String {
    report["labs"][0]["steps"][step - 1]["tests"][0]["outcome"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_class_of_fixture_submissions_is_graded_step_by_step() {
    let scratch = tempfile::tempdir().unwrap();
    let subs = scratch.path().join("submissions");
    let variants = [
        "complete", "partial", "tampered", "broken", "hangs", "panics",
    ];
    let mut args: Vec<String> = variants
        .iter()
        .map(|v| submission(&subs, v).display().to_string())
        .collect();
    // A git repository given by URL is cloned, not copied.
    let repo = submission(scratch.path(), "complete");
    let repo = {
        let named = scratch.path().join("from-git");
        std::fs::rename(&repo, &named).unwrap();
        named
    };
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "my work"]);
    args.push(format!("file://{}", repo.display()));

    let out = scratch.path().join("out");
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("grade")
        .arg("--course")
        .arg(fixtures().join("course"))
        .arg("--out")
        .arg(&out)
        .args(["--test-timeout", "3", "--jobs", "2"])
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "grade failed:\n{stdout}\n{stderr}");
    assert!(
        started.elapsed().as_secs() < 240,
        "grading 7 tiny submissions took {:?}",
        started.elapsed()
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let points = |name: &str| report(&summary, name)["points"].as_u64().unwrap();
    let flagged = |name: &str| report(&summary, name)["flagged"].as_bool().unwrap();

    assert_eq!(points("complete"), 60);
    assert_eq!(points("from-git"), 60);
    assert_eq!(points("partial"), 10);
    assert_eq!(report(&summary, "partial")["steps_passed"], 1);

    // Graded with the pristine tests: the rewritten ones earn nothing, and are flagged.
    assert_eq!(points("tampered"), 10);
    assert!(flagged("tampered"));
    let differences = report(&summary, "tampered")["differences"].to_string();
    assert!(
        differences.contains("labs/01-demo/tests/demo.rs") && differences.contains("modified"),
        "{differences}"
    );
    for name in [
        "complete", "partial", "broken", "hangs", "panics", "from-git",
    ] {
        assert!(!flagged(name), "{name} did not touch its tests");
    }

    // A compile error is reported as such, with the compiler's message.
    let broken = &report(&summary, "broken")["labs"][0];
    assert_eq!(points("broken"), 0);
    assert_eq!(broken["status"], "does not compile");
    assert!(
        broken["compile_errors"]
            .as_str()
            .unwrap()
            .contains("mismatched types")
    );

    // A hanging step and a crashing step cost that step only.
    let hangs = report(&summary, "hangs");
    assert_eq!(points("hangs"), 30);
    assert_eq!(step_outcome(hangs, 3), "timed out");
    let panics = report(&summary, "panics");
    assert_eq!(points("panics"), 40);
    assert_eq!(step_outcome(panics, 2), "crashed");
    assert_eq!(step_outcome(panics, 3), "passed");

    // Reports: one folder per submission, and the class summary, in every format.
    let md = std::fs::read_to_string(out.join("partial/report.md")).unwrap();
    assert!(md.contains("**Total: 10/60 points, 1/3 steps.**"), "{md}");
    assert!(md.contains("step 2: `step2_greets` failed"), "{md}");
    assert!(
        md.contains("not yet implemented: step 2: say hello"),
        "{md}"
    );
    let class = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        class.contains("| tampered | 10/60 | 1/3 | 10/60 | **yes** (1 files) |"),
        "{class}"
    );
    let junit = std::fs::read_to_string(out.join("summary.junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"hangs.01-demo\" tests=\"4\" failures=\"1\""),
        "{junit}"
    );
    assert!(out.join("panics/junit.xml").is_file());
    assert!(out.join("panics/report.json").is_file());

    // The submissions themselves are left as they were.
    let theirs = std::fs::read_to_string(subs.join("tampered/labs/01-demo/tests/demo.rs")).unwrap();
    assert!(theirs.contains("Rewritten by the learner"));
    assert!(!subs.join("complete/target").exists());
}

#[test]
fn a_missing_submission_is_refused_before_anything_is_graded() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("grade")
        .arg("--course")
        .arg(fixtures().join("course"))
        .arg("--out")
        .arg(scratch.path())
        .arg(scratch.path().join("nobody"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not a folder or a git URL"), "{stderr}");
    assert!(!scratch.path().join("summary.md").exists());
}
