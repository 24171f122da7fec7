//! `verify`'s step-wise checks of each lab: its `steps.toml` agrees with the tests that
//! exist, the lab as shipped fails every step, its solution passes every step, and (with
//! `--cumulative`) with steps 1..N solved exactly steps 1..N pass.
//!
//! Step by step rather than test by test, because steps are what learners see and what
//! the grader scores: a step that passes as shipped gives away points, and a step the
//! solution cannot pass can never be earned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

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

/// What a stage (steps 1..=N solved) showed about step N: `Ok(())` when its tests pass
/// there, else why they do not; `None` when the stage's tests were not run (the last one).
pub type StageVerdict = Option<std::result::Result<(), String>>;

/// With steps 1..=N of the solution kept and the rest derived as `todo!`s, exactly steps
/// 1..=N pass, for every N from 1 to the last step but one (0 is the lab as shipped, the
/// last is the solution). So each step's tests need no later step's code, which is what
/// lets a learner see progress one step at a time; and no step's tests pass on earlier
/// steps' code alone, which would give its points away.
///
/// Works on a copy of the course under `target/cumulative/` and builds there too. One
/// build of the lab per step (about a minute a lab once the dependencies are built), so
/// `verify` runs it only with `--cumulative`, as CI does.
///
/// It calls `at_stage` on each stage with the copy derived to it, so that a caller (the
/// wrong answers) can work on that stage without deriving and testing it a second time.
/// With `also_last`, the last stage (the solution, derived) is visited too, with `None`:
/// this check does not run its tests (the default members' tests run the solution's).
pub fn stage_by_stage(
    where_: &Where,
    lab: &workspace::Lab,
    also_last: bool,
    at_stage: &mut dyn FnMut(&Scratch, &steps::Step, StageVerdict) -> Result<()>,
) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    if steps.steps.iter().all(|s| s.regions.is_empty()) {
        return Ok(Status::NotRun(
            "no [[step.region]] in steps.toml: the lab is written by hand, not derived".into(),
        ));
    }
    let scratch = Scratch::new(where_, lab)?;
    let (copy, copy_where) = (&scratch.lab, scratch.here());
    let mut problems = Vec::new();
    let last = steps.steps.iter().map(|s| s.id).max().unwrap_or(0);
    for step in &steps.steps {
        let solved = step.id;
        if solved == last && !also_last {
            continue;
        }
        crate::derive::write(copy, solved)?;
        if solved == last {
            at_stage(&scratch, step, None)?;
            continue;
        }
        let problems_before = problems.len();
        let (steps, results) = match run(&copy_where, copy, &copy.package, &copy.dir)? {
            Ok(run) => run,
            Err(Status::Failed(why)) => {
                problems.push(format!("with steps 1 to {solved} solved: {why}"));
                let why = format!(
                    "cannot judge: steps 1 to {solved} solved do not compile:\n{}",
                    testrun::first_lines(&why, 12)
                );
                at_stage(&scratch, step, Some(Err(why)))?;
                continue;
            }
            Err(other) => return Ok(other),
        };
        let mut verdict = Ok(());
        for score in score::score(&steps, &results) {
            let step = format!("step {} ({})", score.step.id, score.step.title);
            match (score.step.id <= solved, score.passed()) {
                (true, false) => {
                    let first = score.first_failure().map(|test| {
                        (
                            test.name.clone(),
                            testrun::first_lines(&test.outcome.explanation(), 3),
                        )
                    });
                    if score.step.id == solved {
                        verdict = Err(match &first {
                            Some((name, why)) => format!(
                                "cannot judge: with steps 1 to {solved} solved and no mistake, {name} fails already: {why}"
                            ),
                            None => format!("cannot judge: no step {solved} test ran"),
                        });
                    }
                    problems.push(format!(
                        "with steps 1 to {solved} solved, {step} fails: its tests need a later step's code; move them there{}",
                        first.map_or(String::new(), |(name, why)| format!("\n    {name}: {why}"))
                    ))
                }
                (false, true) => problems.push(format!(
                    "with steps 1 to {solved} solved, {step} passes already: its tests do not need its own code"
                )),
                _ => {}
            }
        }
        if problems.len() == problems_before {
            println!("steps 1 to {solved} solved: exactly those pass");
        }
        at_stage(&scratch, step, Some(verdict))?;
    }
    if problems.is_empty() {
        return Ok(Status::Passed);
    }
    Ok(Status::Failed(format!(
        "the steps are not cumulative:\n  {}",
        problems.join("\n  ")
    )))
}

/// A copy of the course under `target/cumulative/` to derive stages of a lab in, with its
/// own target directory (unless the caller gives one). The cumulative check and the wrong
/// answers share it, so the second builds on the first's dependencies.
pub struct Scratch {
    pub course: PathBuf,
    pub lab: workspace::Lab,
    pub target_dir: PathBuf,
}

impl Scratch {
    pub fn new(where_: &Where, lab: &workspace::Lab) -> Result<Scratch> {
        let scratch = where_.course.join("target/cumulative");
        let course = scratch.join("course");
        if course.exists() {
            std::fs::remove_dir_all(&course)?;
        }
        crate::grade::copy_tree(where_.course, &course)?;
        let copy = workspace::labs_in(&course)?
            .into_iter()
            .find(|l| l.dir_name == lab.dir_name)
            .with_context(|| format!("{} is missing from the copy of the course", lab.dir_name))?;
        let target_dir = where_
            .target_dir
            .map_or_else(|| scratch.join("target"), Path::to_path_buf);
        Ok(Scratch {
            course,
            lab: copy,
            target_dir,
        })
    }

    pub fn here(&self) -> Where<'_> {
        Where {
            course: &self.course,
            target_dir: Some(&self.target_dir),
        }
    }
}

/// Builds the lab's tests in `where_` and runs those that match `filters` (libtest's
/// substring filters), from the lab's folder: the results, or why the build failed.
pub fn build_and_run(
    where_: &Where,
    lab: &workspace::Lab,
    filters: &[String],
) -> Result<Result<Vec<TestResult>, String>> {
    let tests_dir = lab.dir.join("tests");
    let target = Target {
        workspace: where_.course,
        package: &lab.package,
        tests_dir: &tests_dir,
        target_dir: where_.target_dir,
        show_progress: false,
    };
    let executables = match testrun::build(&target)? {
        Build::Built(executables) => executables,
        Build::CompileError(errors) => return Ok(Err(errors)),
    };
    let mut results = Vec::new();
    for exe in executables {
        results.extend(testrun::run_matching(&exe, &lab.dir, filters, LAB_LIMIT)?);
    }
    Ok(Ok(results))
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

    /// A scratch copy of the fixture course (tests/fixtures/course: a lab, its solution,
    /// its steps), built in its own target directory.
    struct Fixture {
        _scratch: tempfile::TempDir,
        course: std::path::PathBuf,
        target: std::path::PathBuf,
        lab: workspace::Lab,
    }

    impl Fixture {
        fn new() -> Self {
            let scratch = tempfile::tempdir().unwrap();
            let course = scratch.path().join("course");
            let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
            crate::grade::copy_tree(&fixture, &course).unwrap();
            let lab = workspace::labs_in(&course).unwrap().remove(0);
            let target = scratch.path().join("target");
            Fixture {
                _scratch: scratch,
                course,
                target,
                lab,
            }
        }

        fn here(&self) -> Where<'_> {
            Where {
                course: &self.course,
                target_dir: Some(&self.target),
            }
        }
    }

    #[test]
    fn the_fixture_lab_fails_every_step_its_solution_passes_and_its_steps_agree() {
        let fixture = Fixture::new();
        let (here, lab, course) = (fixture.here(), &fixture.lab, &fixture.course);
        assert_eq!(message(steps_agree(&here, lab).unwrap()), "passed");
        assert_eq!(message(lab_fails_as_shipped(&here, lab).unwrap()), "passed");
        assert_eq!(message(solution_passes(&here, lab).unwrap()), "passed");

        // A step whose tests were renamed away, and a shipped lab that gives a step away.
        let steps = course.join("labs/01-demo/steps.toml");
        let text = std::fs::read_to_string(&steps).unwrap();
        std::fs::write(
            &steps,
            text.replace("tests = [\"step3_\"]", "tests = [\"step3x_\"]"),
        )
        .unwrap();
        let why = message(steps_agree(&here, lab).unwrap());
        assert!(why.contains("step 3 (Count down) matches no test"), "{why}");
        assert!(
            why.contains("step3_counts_down belongs to no step"),
            "{why}"
        );
        std::fs::write(&steps, text).unwrap();
        let solved = std::fs::read_to_string(course.join("solutions/01-demo/src/lib.rs")).unwrap();
        std::fs::write(course.join("labs/01-demo/src/lib.rs"), &solved).unwrap();
        let why = message(lab_fails_as_shipped(&here, lab).unwrap());
        assert!(
            why.contains("step 1 (Add), step 2 (Greet), step 3 (Count down)"),
            "{why}"
        );
        std::fs::write(
            course.join("solutions/01-demo/src/lib.rs"),
            solved.replace("a + b", "a - b"),
        )
        .unwrap();
        let why = message(solution_passes(&here, lab).unwrap());
        assert!(why.contains("step 1 (Add): step1_adds"), "{why}");
    }

    #[test]
    fn steps_solved_in_order_pass_in_order_and_a_misplaced_test_is_named() {
        let fixture = Fixture::new();
        let (here, lab, course) = (fixture.here(), &fixture.lab, &fixture.course);
        assert_eq!(
            message(stage_by_stage(&here, lab, false, &mut |_, _, _| Ok(())).unwrap()),
            "passed"
        );

        // Step 2's test now also needs step 3's code, and step 3's test none of its own.
        let tests = course.join("labs/01-demo/tests/demo.rs");
        let text = std::fs::read_to_string(&tests).unwrap();
        let greet = r#"expect_eq(demo::greet("Ada"), "Hello, Ada!".to_owned(), "greet(\"Ada\")");"#;
        let countdown = r#"expect_eq(demo::countdown(3), vec![3, 2, 1], "countdown(3)");"#;
        assert!(text.contains(greet) && text.contains(countdown));
        let misplaced = text
            .replace(countdown, r#"expect_eq(demo::add(1, 1), 2, "1 + 1");"#)
            .replace(greet, &format!("{greet}\n    {countdown}"));
        std::fs::write(&tests, misplaced).unwrap();
        let why = message(stage_by_stage(&here, lab, false, &mut |_, _, _| Ok(())).unwrap());
        assert!(
            why.contains("with steps 1 to 1 solved, step 3 (Count down) passes already"),
            "{why}"
        );
        assert!(
            why.contains(
                "with steps 1 to 2 solved, step 2 (Greet) fails: its tests need a later step's code"
            ),
            "{why}"
        );
        assert!(why.contains("step2_greets"), "{why}");
    }
}
