//! `cargo xtask check [LAB]`: run one lab's tests and say where the learner stands.
//!
//! Steps passed, then the first failing step: every one of its failing tests with its
//! message (the second test's message is often the one that helps), its first hint and
//! the book page that explains it. The hint shown is recorded, so `cargo xtask hint`
//! goes on with hint 2. A compile error is shown as the compiler's message, not as
//! failing steps: counting failures of code that does not build would send the learner
//! to the wrong place.

use std::time::Duration;

use anyhow::{Result, bail};

use super::hint;
use crate::score::{self, StepScore};
use crate::steps::{self, Steps};
use crate::testrun::{self, Build, Target, TestResult};
use crate::ui;
use crate::workspace::{self, Lab};

/// A whole lab's tests get this long in `check`; each test has its own `kit::within`
/// limits, so this only catches a test written without one.
const LAB_LIMIT: Duration = Duration::from_secs(300);

/// A lab's tests, run.
pub enum LabRun {
    CompileError(String),
    Ran {
        steps: Steps,
        results: Vec<TestResult>,
    },
}

impl LabRun {
    /// Steps passed and steps in all (0 of all when it does not compile).
    pub fn counts(&self) -> Option<(usize, usize, u32, u32)> {
        match self {
            LabRun::CompileError(_) => None,
            LabRun::Ran { steps, results } => {
                let scores = score::score(steps, results);
                Some((
                    score::passed_count(&scores),
                    scores.len(),
                    score::points(&scores),
                    steps.total_points(),
                ))
            }
        }
    }

    pub fn finished(&self) -> bool {
        self.counts().is_some_and(|(passed, all, ..)| passed == all)
    }
}

/// Builds and runs a lab's tests in this workspace.
pub fn run_lab(lab: &Lab) -> Result<LabRun> {
    let steps = steps::load(&lab.dir)?;
    let tests_dir = lab.dir.join("tests");
    let root = workspace::root();
    let target = Target {
        workspace: &root,
        package: &lab.package,
        tests_dir: &tests_dir,
        target_dir: None,
        show_progress: true,
    };
    let executables = match testrun::build(&target)? {
        Build::CompileError(messages) => return Ok(LabRun::CompileError(messages)),
        Build::Built(executables) => executables,
    };
    let mut results = Vec::new();
    for exe in executables {
        results.extend(testrun::run_all(&exe, &lab.dir, LAB_LIMIT)?);
    }
    Ok(LabRun::Ran { steps, results })
}

/// The lab asked for, or the first one with a step still failing (running each in turn).
pub fn check(lab: Option<String>) -> Result<()> {
    let labs = match lab {
        Some(query) => vec![workspace::find_lab(&query)?],
        None => workspace::labs()?,
    };
    let mut last = None;
    for lab in &labs {
        ui::step(&format!(
            "checking {} (building and running its tests)",
            lab.dir_name
        ));
        let run = run_lab(lab)?;
        report(lab, &run);
        if !run.finished() {
            return Err(next_move(lab, &run));
        }
        last = Some(lab.dir_name.clone());
    }
    match (labs.len(), last) {
        (1, Some(name)) => println!("{}", ui::green(&format!("lab {name}: every step passes."))),
        (_, Some(_)) => println!("{}", ui::green("every lab passes every step: well done!")),
        _ => bail!("there is no lab under labs/ yet"),
    }
    Ok(())
}

fn next_move(lab: &Lab, run: &LabRun) -> anyhow::Error {
    let lab_arg = lab.arg();
    match run {
        LabRun::CompileError(_) => anyhow::anyhow!(
            "lab {} does not compile yet: fix the first error above, then run `cargo xtask check {lab_arg}`",
            lab.dir_name
        ),
        LabRun::Ran { .. } => anyhow::anyhow!(
            "not finished yet: make the failing step pass, then run `cargo xtask check {lab_arg}` (or `cargo xtask watch {lab_arg}`); stuck? `cargo xtask hint {lab_arg}`"
        ),
    }
}

/// Prints what a learner needs from a run.
pub fn report(lab: &Lab, run: &LabRun) {
    let (steps, results) = match run {
        LabRun::CompileError(messages) => {
            println!("{messages}");
            println!(
                "\n{} your code does not compile yet, so no step can be checked.",
                ui::red(&format!("lab {}:", lab.dir_name))
            );
            return;
        }
        LabRun::Ran { steps, results } => (steps, results),
    };
    let scores = score::score(steps, results);
    for s in &scores {
        let mark = if s.passed() {
            ui::green("✓")
        } else {
            ui::red("✗")
        };
        println!("  {mark} step {}  {}", s.step.id, s.step.title);
    }
    println!(
        "\n{}",
        ui::bold(&format!(
            "lab {}: {}/{} steps passed ({}/{} points)",
            lab.dir_name,
            score::passed_count(&scores),
            scores.len(),
            score::points(&scores),
            steps.total_points()
        ))
    );
    if let Some(failing) = score::first_failing(&scores) {
        print!("{}", failing_step(&lab.arg(), failing));
        if !failing.step.hints.is_empty() {
            // Best effort: a read-only target/ only means `hint` starts at hint 1 again.
            let _ = hint::record_shown(&lab.dir_name, failing.step.id, 1);
        }
    }
}

/// The first failing step: each failing test with its message, hint 1, the page.
fn failing_step(lab_arg: &str, failing: &StepScore) -> String {
    use std::fmt::Write;
    let step = failing.step;
    let mut out = String::new();
    let failures: Vec<_> = failing
        .results
        .iter()
        .filter(|r| !r.outcome.passed())
        .collect();
    let _ = writeln!(
        out,
        "\n{} step {} ({}) fails: {} of its {} tests",
        ui::red("next:"),
        step.id,
        step.title,
        failures.len(),
        failing.results.len()
    );
    if failures.is_empty() {
        let _ = writeln!(
            out,
            "  no test proves this step ({}...): the lab's tests may have been renamed; `cargo xtask reset {lab_arg}` restores them",
            step.tests.join(", ")
        );
    }
    for result in failures {
        let _ = writeln!(out, "  {}", ui::bold(&result.name));
        let message = testrun::first_lines(&result.outcome.explanation(), 15);
        for line in message.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    if let Some(first) = step.hints.first() {
        let _ = writeln!(out, "\n{} {first}", ui::yellow("hint 1:"));
        if step.hints.len() > 1 {
            let _ = writeln!(
                out,
                "{}",
                ui::dim(&format!(
                    "  ({} more: `cargo xtask hint {lab_arg}` shows hint 2)",
                    step.hints.len() - 1
                ))
            );
        }
    }
    let (url, file) = step.page_links();
    let _ = writeln!(
        out,
        "{} {url} (run `cargo xtask serve`) or {file}",
        ui::bold("read:")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrun::Outcome;

    #[test]
    fn every_failing_test_of_the_step_is_shown_with_its_message() {
        let steps = crate::steps::parse(
            r#"
[lab]
title = "T"
book = "t/lab.md"
[[step]]
id = 5
title = "WebSocket"
book = "t/ws.md"
points = 1
tests = ["step5_"]
hints = ["first hint", "second hint"]
"#,
        )
        .unwrap();
        let result = |name: &str, outcome| TestResult {
            name: name.into(),
            outcome,
        };
        let results = vec![
            result("step5_a", Outcome::Passed),
            result("step5_b", Outcome::Failed("the useless message".into())),
            result("step5_c", Outcome::Failed("the useful message".into())),
        ];
        let scores = score::score(&steps, &results);
        let text = failing_step("01", &scores[0]);
        for wanted in [
            "2 of its 3 tests",
            "step5_b",
            "the useless message",
            "step5_c",
            "the useful message",
            "first hint",
            "`cargo xtask hint 01` shows hint 2",
        ] {
            assert!(text.contains(wanted), "{wanted:?} missing from:\n{text}");
        }
        assert!(
            !text.contains("step5_a"),
            "a passing test is not listed:\n{text}"
        );
    }
}
