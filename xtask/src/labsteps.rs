//! `verify`'s step-wise checks of each lab: its `steps.toml` agrees with the tests that
//! exist, the lab as shipped fails every step, and its solution passes every step.
//!
//! Step by step rather than test by test, because steps are what learners see and what
//! the grader scores: a step that passes as shipped gives away points, and a step the
//! solution cannot pass can never be earned.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::steps::{self, Steps};
use crate::testrun::{self, Build, Target, TestResult};
use crate::verify::Status;
use crate::{score, workspace};

/// A whole lab's tests in `verify`: generous, each test has its own time limits.
const LAB_LIMIT: Duration = Duration::from_secs(600);

/// The course checked (this repository in `verify`, a fixture in tests) and where to build.
pub struct Where<'a> {
    pub course: &'a Path,
    pub target_dir: Option<&'a Path>,
}

/// Builds `package`'s tests from the lab's `tests/` folder: the executables, or why not.
fn build(
    where_: &Where,
    lab: &workspace::Lab,
    package: &str,
) -> Result<Result<Vec<std::path::PathBuf>, Status>> {
    let tests_dir = lab.dir.join("tests");
    let target = Target {
        workspace: where_.course,
        package,
        tests_dir: &tests_dir,
        target_dir: where_.target_dir,
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
    where_: &Where,
    lab: &workspace::Lab,
    package: &str,
    package_dir: &Path,
) -> Result<Result<(Steps, Vec<TestResult>), Status>> {
    let steps = steps::load(&lab.dir)?;
    let executables = match build(where_, lab, package)? {
        Ok(executables) => executables,
        Err(status) => return Ok(Err(status)),
    };
    let mut results = Vec::new();
    for exe in executables {
        results.extend(testrun::run_all(&exe, package_dir, LAB_LIMIT)?);
    }
    Ok(Ok((steps, results)))
}

pub fn steps_agree(where_: &Where, lab: &workspace::Lab) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    let executables = match build(where_, lab, &lab.package)? {
        Ok(executables) => executables,
        Err(status) => return Ok(status),
    };
    let mut tests = Vec::new();
    for exe in executables {
        tests.extend(testrun::list(&exe)?);
    }
    let problems = steps.validate(&tests, Some(&where_.course.join("book/src")));
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

pub fn lab_fails_as_shipped(where_: &Where, lab: &workspace::Lab) -> Result<Status> {
    let (steps, results) = match run(where_, lab, &lab.package, &lab.dir)? {
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

pub fn solution_passes(where_: &Where, lab: &workspace::Lab) -> Result<Status> {
    if !lab.solution_dir.join("Cargo.toml").is_file() {
        return Ok(Status::Failed(format!(
            "{} has no solution: add {}",
            lab.dir_name,
            lab.solution_dir.display()
        )));
    }
    let (steps, results) = match run(where_, lab, &lab.solution_package, &lab.solution_dir)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(status: Status) -> String {
        match status {
            Status::Passed => "passed".into(),
            Status::Failed(why) => why,
            Status::NotRun(why) => format!("not run: {why}"),
        }
    }

    /// The fixture course (tests/fixtures/course): a lab, its solution, its steps.
    #[test]
    fn the_fixture_lab_fails_every_step_its_solution_passes_and_its_steps_agree() {
        let scratch = tempfile::tempdir().unwrap();
        let course = scratch.path().join("course");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
        crate::grade::copy_tree(&fixture, &course).unwrap();
        let target = scratch.path().join("target");
        let here = Where {
            course: &course,
            target_dir: Some(&target),
        };
        let lab = workspace::labs_in(&course).unwrap().remove(0);
        assert_eq!(message(steps_agree(&here, &lab).unwrap()), "passed");
        assert_eq!(
            message(lab_fails_as_shipped(&here, &lab).unwrap()),
            "passed"
        );
        assert_eq!(message(solution_passes(&here, &lab).unwrap()), "passed");

        // A step whose tests were renamed away, and a shipped lab that gives a step away.
        let steps = course.join("labs/01-demo/steps.toml");
        let text = std::fs::read_to_string(&steps).unwrap();
        std::fs::write(
            &steps,
            text.replace("tests = [\"step3_\"]", "tests = [\"step3x_\"]"),
        )
        .unwrap();
        let why = message(steps_agree(&here, &lab).unwrap());
        assert!(why.contains("step 3 (Count down) matches no test"), "{why}");
        assert!(
            why.contains("step3_counts_down belongs to no step"),
            "{why}"
        );
        std::fs::write(&steps, text).unwrap();
        let solved = std::fs::read_to_string(course.join("solutions/01-demo/src/lib.rs")).unwrap();
        std::fs::write(course.join("labs/01-demo/src/lib.rs"), &solved).unwrap();
        let why = message(lab_fails_as_shipped(&here, &lab).unwrap());
        assert!(
            why.contains("step 1 (Add), step 2 (Greet), step 3 (Count down)"),
            "{why}"
        );
        std::fs::write(
            course.join("solutions/01-demo/src/lib.rs"),
            solved.replace("a + b", "a - b"),
        )
        .unwrap();
        let why = message(solution_passes(&here, &lab).unwrap());
        assert!(why.contains("step 1 (Add): step1_adds"), "{why}");
    }
}
