//! `cargo xtask grade`: score learner submissions with the course's pristine tests.
//!
//! For each submission, one after another: copy it to `<out>/<name>/work` (the submission
//! itself is never modified), note which tests and helpers differ from the course's, lay
//! the course's over the copy, build each lab's test binary, and run each graded test in
//! its own process under a time limit, `--jobs` at a time: a server that hangs or crashes
//! costs only the test it hangs or crashes in. Then score by step and write the reports.
//!
//! Builds share one target directory, `<out>/target`: registry dependencies (axum,
//! tokio...) are compiled once for the whole class instead of once per submission, which
//! is most of the build time. The price: submissions are built one after another (cargo
//! locks a target directory), and the directory grows by each submission's own crates
//! (delete `<out>/target` when done).

mod bar;
mod overlay;
mod report;
mod tamper;

// `verify --cumulative` copies the course with it; tests build fixture courses with it.
pub use overlay::copy_tree;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::score;
use crate::steps::{self, Steps};
use crate::testrun::{self, Build, Outcome, Target, TestResult};
use crate::ui;
use crate::workspace::{self, Lab};
use report::{LabReport, StepReport, SubmissionReport, TestReport};

#[derive(clap::Args)]
pub struct GradeArgs {
    /// Submissions: folders (each a clone of the course with a learner's work) or git URLs.
    #[arg(required = true)]
    pub submissions: Vec<String>,
    /// Reports to write, separated by commas: md, json, junit.
    #[arg(long, default_value = "md,json,junit", value_delimiter = ',')]
    pub format: Vec<Format>,
    /// Where the reports and working copies go (default: grading/, git-ignored).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How many tests run at the same time.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// The wall-clock limit for each test, in seconds.
    #[arg(long, default_value_t = 60)]
    pub test_timeout: u64,
    /// The pristine course whose tests are used (default: this repository).
    #[arg(long)]
    pub course: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Json,
    Junit,
}

pub fn grade(args: GradeArgs) -> Result<()> {
    let course = match &args.course {
        Some(dir) => dir
            .canonicalize()
            .with_context(|| format!("--course {}", dir.display()))?,
        None => workspace::root(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace::root().join("grading"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out.canonicalize()?;
    let labs = workspace::labs_in(&course)?;
    if labs.is_empty() {
        bail!("{} has no labs to grade with", course.display());
    }
    let metadata: Vec<(Lab, Steps)> = labs
        .into_iter()
        .map(|lab| steps::load(&lab.dir).map(|s| (lab, s)))
        .collect::<Result<_>>()?;
    let names = submission_names(&args.submissions);
    for source in &args.submissions {
        if !overlay::is_git_source(source) && !Path::new(source).is_dir() {
            bail!("{source} is not a folder or a git URL: nothing was graded");
        }
    }
    let settings = Settings {
        course: &course,
        out: &out,
        target_dir: out.join("target"),
        jobs: args.jobs.max(1),
        limit: Duration::from_secs(args.test_timeout.max(1)),
        labs: &metadata,
    };
    let mut reports = Vec::new();
    for (source, name) in args.submissions.iter().zip(&names) {
        ui::step(&format!("grading {name} ({source})"));
        let report = grade_one(&settings, source, name)?;
        write_reports(
            &out.join(name),
            &args.format,
            std::slice::from_ref(&report),
            false,
        )?;
        println!(
            "{name}: {}/{} points, {}/{} steps{}",
            report.points,
            report.max_points,
            report.steps_passed,
            report.steps_total,
            if report.flagged {
                ", tests modified (flagged)"
            } else {
                ""
            }
        );
        reports.push(report);
    }
    write_reports(&out, &args.format, &reports, true)?;
    println!(
        "\n{}",
        ui::table(
            &["submission", "steps", "points", "tests modified"],
            &reports
                .iter()
                .map(|r| vec![
                    r.name.clone(),
                    format!("{}/{}", r.steps_passed, r.steps_total),
                    format!("{}/{}", r.points, r.max_points),
                    if r.flagged {
                        ui::red("yes")
                    } else {
                        "no".into()
                    },
                ])
                .collect::<Vec<_>>()
        )
    );
    println!(
        "reports: {} (summary.* and one folder per submission)",
        out.display()
    );
    Ok(())
}

struct Settings<'a> {
    course: &'a Path,
    out: &'a Path,
    target_dir: PathBuf,
    jobs: usize,
    limit: Duration,
    labs: &'a [(Lab, Steps)],
}

/// A folder name for each submission, unique among them.
fn submission_names(sources: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for source in sources {
        let trimmed = source.trim_end_matches(['/', '\\']);
        let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
        let base = base.strip_suffix(".git").unwrap_or(base);
        let base: String = base
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if base.is_empty() || base == "." || base == ".." {
            "submission".into()
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) || name == "target" {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

fn grade_one(settings: &Settings, source: &str, name: &str) -> Result<SubmissionReport> {
    let work = settings.out.join(name).join("work");
    overlay::copy_submission(source, &work)?;
    let labs: Vec<Lab> = settings.labs.iter().map(|(lab, _)| lab.clone()).collect();
    let pristine = overlay::pristine_paths(&labs);
    let differences = tamper::differences(settings.course, &work, &pristine)?;
    overlay::lay_pristine(settings.course, &work, &pristine)?;
    let mut lab_reports = Vec::new();
    for (lab, steps) in settings.labs {
        lab_reports.push(grade_lab(settings, &work, name, lab, steps)?);
    }
    Ok(SubmissionReport {
        name: name.to_owned(),
        source: source.to_owned(),
        flagged: !differences.is_empty(),
        differences,
        points: 0,
        max_points: 0,
        steps_passed: 0,
        steps_total: 0,
        labs: lab_reports,
    }
    .total())
}

fn grade_lab(
    settings: &Settings,
    work: &Path,
    name: &str,
    lab: &Lab,
    steps: &Steps,
) -> Result<LabReport> {
    let lab_dir = work.join("labs").join(&lab.dir_name);
    let unscored = |status: &'static str, errors: Option<String>| LabReport {
        lab: lab.dir_name.clone(),
        title: steps.lab.title.clone(),
        status,
        compile_errors: errors,
        points: 0,
        max_points: steps.total_points(),
        steps: step_reports(steps, &[], &[]),
    };
    if !lab_dir.join("Cargo.toml").is_file() {
        return Ok(unscored("missing", None));
    }
    let tests_dir = lab_dir.join("tests");
    let target = Target {
        workspace: work,
        package: &lab.package,
        tests_dir: &tests_dir,
        target_dir: Some(&settings.target_dir),
        show_progress: false,
    };
    println!("{name}: building {}...", lab.package);
    let executables = match testrun::build(&target)? {
        Build::CompileError(errors) => return Ok(unscored("does not compile", Some(errors))),
        Build::Built(executables) => executables,
    };
    let mut cases = Vec::new();
    for exe in &executables {
        for test in testrun::list(exe)? {
            if steps.step_of(&test).is_some() {
                cases.push((exe.clone(), test));
            }
        }
    }
    let label = format!("{name} {}", lab.dir_name);
    let bar = bar::Bar::new(&label, cases.len());
    let timed = run_parallel(&cases, settings.jobs, |(exe, test)| {
        let started = Instant::now();
        let result = testrun::run_one(exe, &lab_dir, test, settings.limit);
        let seconds = started.elapsed().as_secs_f64();
        bar.tick(&format!("{test} {}", result.outcome.label()));
        (result, seconds)
    });
    bar.finish();
    let (results, seconds): (Vec<TestResult>, Vec<f64>) = timed.into_iter().unzip();
    let steps_reports = step_reports(steps, &results, &seconds);
    let points = steps_reports.iter().map(|s| s.points).sum();
    Ok(LabReport {
        lab: lab.dir_name.clone(),
        title: steps.lab.title.clone(),
        status: "graded",
        compile_errors: None,
        points,
        max_points: steps.total_points(),
        steps: steps_reports,
    })
}

/// Runs `work` on every item, `jobs` at a time, keeping the items' order in the results.
fn run_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item);
                    results.lock().expect("results lock")[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every item was run"))
        .collect()
}

fn step_reports(steps: &Steps, results: &[TestResult], seconds: &[f64]) -> Vec<StepReport> {
    score::score(steps, results)
        .iter()
        .map(|s| StepReport {
            id: s.step.id,
            title: s.step.title.clone(),
            passed: s.passed(),
            points: s.points(),
            max_points: s.step.points,
            tests: s
                .results
                .iter()
                .map(|r| {
                    let index = results
                        .iter()
                        .position(|x| std::ptr::eq(x, *r))
                        .unwrap_or(0);
                    TestReport {
                        name: r.name.clone(),
                        outcome: r.outcome.label(),
                        message: match &r.outcome {
                            Outcome::Passed => None,
                            other => Some(other.explanation()),
                        },
                        seconds: seconds.get(index).copied().unwrap_or(0.0),
                    }
                })
                .collect(),
        })
        .collect()
}

fn write_reports(
    dir: &Path,
    formats: &[Format],
    reports: &[SubmissionReport],
    summary: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = if summary { "summary" } else { "report" };
    for format in formats {
        let (extension, text) = match format {
            Format::Md if summary => ("md", report::markdown_summary(reports)),
            Format::Md => ("md", report::markdown(&reports[0])),
            Format::Json if summary => ("json", serde_json::to_string_pretty(reports)?),
            Format::Json => ("json", serde_json::to_string_pretty(&reports[0])?),
            Format::Junit => ("xml", report::junit(reports)),
        };
        let file = if *format == Format::Junit {
            dir.join(format!(
                "{}junit.xml",
                if summary { "summary." } else { "" }
            ))
        } else {
            dir.join(format!("{stem}.{extension}"))
        };
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_folder_or_repository_and_are_unique() {
        let sources = [
            "subs/ada/",
            "file:///srv/git/ada.git",
            "other/bob",
            "target",
        ]
        .map(String::from);
        assert_eq!(
            submission_names(&sources),
            vec!["ada", "ada-2", "bob", "target-2"]
        );
    }

    #[test]
    fn parallel_runs_keep_the_order() {
        let items: Vec<u32> = (0..20).collect();
        assert_eq!(
            run_parallel(&items, 3, |n| n * 2),
            items.iter().map(|n| n * 2).collect::<Vec<_>>()
        );
    }
}
