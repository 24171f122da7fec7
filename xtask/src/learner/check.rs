//! `cargo xtask check [LAB]`: run one lab's tests and say where the learner stands.
//!
//! Steps passed, then the first failing step with its assertion message, its first hint
//! and the book page that explains it. A compile error is shown as the compiler's
//! message, not as failing steps: counting failures of code that does not build would
//! send the learner to the wrong place.

use std::time::Duration;

use anyhow::{Result, bail};

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
    let number = lab
        .dir_name
        .split('-')
        .next()
        .unwrap_or(&lab.dir_name)
        .trim_start_matches('0');
    match run {
        LabRun::CompileError(_) => anyhow::anyhow!(
            "lab {} does not compile yet: fix the first error above, then run `cargo xtask check {number}`",
            lab.dir_name
        ),
        LabRun::Ran { .. } => anyhow::anyhow!(
            "not finished yet: make the failing step pass, then run `cargo xtask check {number}` (or `cargo xtask watch {number}`); stuck? `cargo xtask hint {number}`"
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
        print_failing_step(failing);
    }
}

fn print_failing_step(failing: &StepScore) {
    let step = failing.step;
    println!(
        "\n{} step {} ({}) fails",
        ui::red("next:"),
        step.id,
        step.title
    );
    match failing.first_failure() {
        Some(result) => {
            println!("  {}", ui::bold(&result.name));
            let message = testrun::first_lines(&result.outcome.explanation(), 15);
            for line in message.lines() {
                println!("    {line}");
            }
        }
        None => println!(
            "  no test proves this step ({}...): the lab's tests may have been renamed; `cargo xtask reset` restores them",
            step.tests.join(", ")
        ),
    }
    if let Some(first) = step.hints.first() {
        println!("\n{} {first}", ui::yellow("hint 1:"));
        if step.hints.len() > 1 {
            println!(
                "{}",
                ui::dim(&format!(
                    "  ({} more: `cargo xtask hint`)",
                    step.hints.len() - 1
                ))
            );
        }
    }
    let (url, file) = step.page_links();
    println!(
        "{} {url} (run `cargo xtask serve`) or {file}",
        ui::bold("read:")
    );
}
