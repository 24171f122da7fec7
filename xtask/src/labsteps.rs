//! `verify`'s step-wise checks of each lab: its `steps.toml` agrees with the tests that
//! exist, the lab as shipped fails every step, and its solution passes every step.
//!
//! Step by step rather than test by test, because steps are what learners see and what
//! the grader scores: a step that passes as shipped gives away points, and a step the
//! solution cannot pass can never be earned.

use std::time::Duration;

use anyhow::Result;

use crate::steps::{self, Steps};
use crate::testrun::{self, Build, Target, TestResult};
use crate::verify::Status;
use crate::{score, workspace};

/// A whole lab's tests in `verify`: generous, each test has its own time limits.
const LAB_LIMIT: Duration = Duration::from_secs(600);

/// Builds `package`'s tests from the lab's `tests/` folder: the executables, or why not.
fn build(lab: &workspace::Lab, package: &str) -> Result<Result<Vec<std::path::PathBuf>, Status>> {
    let root = workspace::root();
    let tests_dir = lab.dir.join("tests");
    let target = Target {
        workspace: &root,
        package,
        tests_dir: &tests_dir,
        target_dir: None,
        show_progress: true,
    };
    Ok(match testrun::build(&target)? {
        Build::Built(executables) => Ok(executables),
        Build::CompileError(errors) => Err(Status::Failed(format!(
            "{package} does not compile with its tests:\n{errors}"
        ))),
    })
}

/// Runs `package`'s build of the lab's tests from `package_dir`, as `cargo test` would.
fn run(
    lab: &workspace::Lab,
    package: &str,
    package_dir: &std::path::Path,
) -> Result<Result<(Steps, Vec<TestResult>), Status>> {
    let steps = steps::load(&lab.dir)?;
    let executables = match build(lab, package)? {
        Ok(executables) => executables,
        Err(status) => return Ok(Err(status)),
    };
    let mut results = Vec::new();
    for exe in executables {
        results.extend(testrun::run_all(&exe, package_dir, LAB_LIMIT)?);
    }
    Ok(Ok((steps, results)))
}

pub fn steps_agree(lab: &workspace::Lab) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    let executables = match build(lab, &lab.package)? {
        Ok(executables) => executables,
        Err(status) => return Ok(status),
    };
    let mut tests = Vec::new();
    for exe in executables {
        tests.extend(testrun::list(&exe)?);
    }
    let problems = steps.validate(&tests, Some(&workspace::root().join("book/src")));
    if problems.is_empty() {
        println!(
            "{} steps, {} tests, {} points",
            steps.steps.len(),
            tests.len(),
            steps.total_points()
        );
        return Ok(Status::Passed);
    }
    Ok(Status::Failed(format!(
        "{} disagrees with the lab's tests; fix the file or the tests:\n  {}",
        steps::path(&lab.dir).display(),
        problems.join("\n  ")
    )))
}

pub fn lab_fails_as_shipped(lab: &workspace::Lab) -> Result<Status> {
    let (steps, results) = match run(lab, &lab.package, &lab.dir)? {
        Ok(run) => run,
        Err(status) => return Ok(status),
    };
    let scores = score::score(&steps, &results);
    let passing: Vec<String> = scores
        .iter()
        .filter(|s| s.passed())
        .map(|s| format!("step {} ({})", s.step.id, s.step.title))
        .collect();
    if !passing.is_empty() {
        return Ok(Status::Failed(format!(
            "these steps pass before the learner has done anything (their tests must fail on the shipped `todo!`s): {}",
            passing.join(", ")
        )));
    }
    println!("{} steps, all failing as shipped", scores.len());
    Ok(Status::Passed)
}

pub fn solution_passes(lab: &workspace::Lab) -> Result<Status> {
    if !lab.solution_dir.join("Cargo.toml").is_file() {
        return Ok(Status::Failed(format!(
            "{} has no solution: add {}",
            lab.dir_name,
            lab.solution_dir.display()
        )));
    }
    let (steps, results) = match run(lab, &lab.solution_package, &lab.solution_dir)? {
        Ok(run) => run,
        Err(status) => return Ok(status),
    };
    let scores = score::score(&steps, &results);
    let failing: Vec<String> = scores
        .iter()
        .filter(|s| !s.passed())
        .map(|s| match s.first_failure() {
            Some(test) => format!(
                "step {} ({}): {}: {}",
                s.step.id,
                s.step.title,
                test.name,
                testrun::first_lines(&test.outcome.explanation(), 5)
            ),
            None => format!("step {} ({}): no test ran", s.step.id, s.step.title),
        })
        .collect();
    if !failing.is_empty() {
        return Ok(Status::Failed(format!(
            "the solution fails steps a learner is asked to pass:\n  {}",
            failing.join("\n  ")
        )));
    }
    println!("{} steps, all passing", scores.len());
    Ok(Status::Passed)
}
