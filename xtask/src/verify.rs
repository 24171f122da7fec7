//! `cargo xtask verify`: everything a maintainer (and CI) must see green.
//!
//! fmt, clippy with warnings denied, the default members' tests (solutions, kit, xtask),
//! every lab compiles and fails every graded step as shipped, the suites that need Node,
//! Python or Chromium, and the book builds with every include and link resolved.
//! `--cumulative` adds the slow checks: each lab's steps can be solved in order, and each
//! wrong answer of the corpus (`xtask/tests/wrong-answers/`) is caught at its own step.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::labsteps;
use crate::suites::{SUITES, Tool};
use crate::{book, ui, workspace};

pub enum Status {
    Passed,
    Failed(String),
    NotRun(String),
}

struct Outcome {
    name: String,
    status: Status,
    seconds: f64,
}

pub fn run(cumulative: bool, only_lab: Option<&str>) -> Result<()> {
    let require_all = std::env::var("COURSE_REQUIRE_ALL").as_deref() == Ok("1");
    let mut outcomes = Vec::new();
    let mut record = |name: &str, run: &mut dyn FnMut() -> Result<Status>| {
        ui::step(name);
        let started = Instant::now();
        let status = match run() {
            Ok(status) => status,
            Err(error) => Status::Failed(format!("{error:#}")),
        };
        if let Status::Failed(why) = &status {
            ui::error(&format!("{name}: {why}"));
        }
        outcomes.push(Outcome {
            name: name.to_owned(),
            status,
            seconds: started.elapsed().as_secs_f64(),
        });
    };

    let labs = match only_lab {
        Some(query) => vec![workspace::find_lab(query)?],
        None => workspace::labs()?,
    };
    let whole_course = only_lab.is_none();
    if whole_course {
        record("cargo fmt --check", &mut || {
            cargo_ok(&["fmt", "--all", "--", "--check"], "run `cargo fmt --all`")
        });
        record("clippy (warnings denied)", &mut || {
            cargo_ok(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                "fix the warnings above",
            )
        });
        record("kit: a real Redis", &mut kit_redis);
        record("tests: solutions, kit, xtask", &mut || {
            cargo_ok(
                &["test", "--no-fail-fast"],
                "a solution or the tooling is broken: see the failures above",
            )
        });
    }
    let root = workspace::root();
    let here = labsteps::Where {
        course: &root,
        target_dir: None,
    };
    for lab in labs {
        let name = format!("{}: steps.toml agrees with the tests", lab.dir_name);
        record(&name, &mut || labsteps::steps_agree(&here, &lab));
        let name = format!("{}: code in its hints is the solution's", lab.dir_name);
        record(&name, &mut || {
            crate::hintcode::hints_are_solution_code(&lab)
        });
        let name = format!("{}: lab derived from its solution", lab.dir_name);
        record(&name, &mut || crate::derive::lab_is_derived(&lab));
        let name = format!("{} fails every step as shipped", lab.package);
        record(&name, &mut || labsteps::lab_fails_as_shipped(&here, &lab));
        let name = format!("{} passes every step", lab.solution_package);
        record(&name, &mut || labsteps::solution_passes(&here, &lab));
        if cumulative {
            let name = format!(
                "{}: steps 1..N solved pass exactly 1..N, and step N's wrong answers are caught there",
                lab.dir_name
            );
            record(&name, &mut || {
                crate::wrong::verify_with_cumulative(&here, &lab)
            });
        }
    }
    if whole_course {
        for suite in SUITES {
            record(suite.name, &mut || run_suite(suite, require_all));
        }
        record("book builds, includes and links resolve", &mut || {
            let out = workspace::root().join("target/book-verify");
            book::build(&out, None)?;
            book::check_links(&out)?;
            Ok(Status::Passed)
        });
    }

    print_summary(&outcomes);
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Failed(_)))
        .count();
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(())
}

fn cargo_ok(args: &[&str], fix: &str) -> Result<Status> {
    let status = workspace::cargo()
        .args(args)
        .status()
        .context("running cargo")?;
    Ok(if status.success() {
        Status::Passed
    } else {
        Status::Failed(format!("`cargo {}` failed: {fix}", args.join(" ")))
    })
}

/// The kit's Redis tests, with their output shown, so the log says which provider ran.
fn kit_redis() -> Result<Status> {
    let output = workspace::cargo()
        .args([
            "test",
            "-p",
            "course-kit",
            "--test",
            "redis",
            "--",
            "--show-output",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running the kit's Redis tests")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Ok(Status::Failed(
            "the kit could not talk to a real Redis (see above)".into(),
        ));
    }
    println!("Redis provider: {}", provider_used(&stdout));
    Ok(Status::Passed)
}

/// Which of the kit's three providers its tests reported (`ping_answers_pong` prints it).
fn provider_used(stdout: &str) -> &'static str {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Redis provider used: "))
        .unwrap_or_default();
    if line.contains("testcontainers") {
        "testcontainers"
    } else if line.contains("redis-server on PATH") {
        "redis-server on PATH, started by the kit"
    } else if line.contains("REDIS_URL") {
        "REDIS_URL"
    } else {
        "not reported"
    }
}

/// Graded tests are named by step: `step1_...`, possibly inside a module.
pub fn is_graded(name: &str) -> bool {
    name.rsplit("::")
        .next()
        .is_some_and(|n| n.starts_with("step"))
}

fn run_suite(suite: &crate::suites::Suite, require_all: bool) -> Result<Status> {
    let missing: Vec<Tool> = suite
        .needs
        .iter()
        .copied()
        .filter(|t| !t.present())
        .collect();
    if !missing.is_empty() {
        let how = missing
            .iter()
            .map(|t| t.how_to_enable())
            .collect::<Vec<_>>()
            .join("; ");
        return Ok(if require_all {
            Status::Failed(format!("cannot run (COURSE_REQUIRE_ALL=1): {how}"))
        } else {
            Status::NotRun(how)
        });
    }
    (suite.prepare)().context("preparing the suite")?;
    let mut command: Command = workspace::cargo();
    command.args([
        "test",
        "-p",
        suite.package,
        "--features",
        suite.feature,
        "--test",
        suite.test,
        "--",
        "--test-threads=1",
    ]);
    let status = command.status().context("running the suite")?;
    Ok(if status.success() {
        Status::Passed
    } else {
        Status::Failed("see the failures above".into())
    })
}

fn print_summary(outcomes: &[Outcome]) {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let (status, note) = match &o.status {
                Status::Passed => (ui::green("passed"), String::new()),
                Status::Failed(why) => (
                    ui::red("FAILED"),
                    why.lines().next().unwrap_or("").to_owned(),
                ),
                Status::NotRun(how) => (ui::yellow("not run"), format!("to enable: {how}")),
            };
            vec![o.name.clone(), status, format!("{:.0} s", o.seconds), note]
        })
        .collect();
    println!("\n{}", ui::bold("verify summary"));
    println!("{}", ui::table(&["check", "result", "time", "note"], &rows));
    let passed = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Passed))
        .count();
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Failed(_)))
        .count();
    let not_run = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::NotRun(_)))
        .count();
    if not_run > 0 {
        println!("\nskipped = suites that could not run here (see the notes above)");
    }
    // The plain closing line CI tools read: `N passed, N failed, N skipped`.
    println!("\n{passed} passed, {failed} failed, {not_run} skipped");
}

#[cfg(test)]
mod tests {
    use super::is_graded;

    #[test]
    fn graded_tests_are_the_step_tests() {
        assert!(is_graded("step3_sse_resumes"));
        assert!(is_graded("wire::step1_upgrade"));
        assert!(!is_graded("helpers_work"));
    }
}
