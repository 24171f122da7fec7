//! `cargo xtask wrong-answers [LAB]` and its check in `verify --cumulative`: every wrong
//! answer of the corpus (see `corpus`) is caught by its own step's tests.
//!
//! Mutants show that the tests notice mechanical changes; the corpus shows that they notice
//! the mistakes learners make, at the step where they make them, with a message that helps.
//! Each entry is applied to a copy of the course with steps 1..N solved (N its step), and
//! must compile, fail at least one test of step N, and fail it with a message that names
//! what was expected and a book page. One derive per step serves all of that step's
//! entries, and first shows that step N passes there without any mistake (else no entry of
//! that step can be judged); each entry then costs one incremental build of the lab and a
//! run of step N's tests only.

mod appendix;
pub mod corpus;

use std::time::Instant;

use anyhow::Result;

use crate::labsteps::{self, Scratch, Where};
use crate::steps::{self, Step};
use crate::testrun::{self, TestResult};
use crate::verify::Status;
use crate::{ui, workspace};

use corpus::Entry;

/// What became of one entry.
pub struct Verdict {
    pub entry: Entry,
    /// The step N test that caught it, or why it counts as not caught.
    pub caught_by: Result<String, String>,
}

/// The command: checks one lab's corpus (or every lab's), prints the verdicts, and writes
/// each lab's row in the grading appendix.
pub fn command(lab: Option<String>) -> Result<()> {
    let labs = match lab {
        Some(query) => vec![workspace::find_lab(&query)?],
        None => workspace::labs()?,
    };
    let root = workspace::root();
    let here = Where {
        course: &root,
        target_dir: None,
    };
    let mut failed = Vec::new();
    for lab in &labs {
        ui::step(&format!(
            "{}: wrong answers caught at their step",
            lab.dir_name
        ));
        let started = Instant::now();
        let verdicts = check_lab(&here, lab)?;
        if verdicts.is_empty() {
            println!("no wrong answers under {}/{}", corpus::DIR, lab.dir_name);
            continue;
        }
        print_verdicts(&verdicts);
        let steps = steps::load(&lab.dir)?;
        let row = appendix::row(&lab.dir_name, &steps, &verdicts, started.elapsed());
        let page = root.join("book/src/appendix/grading.md");
        appendix::write_row(&page, &lab.dir_name, &row)?;
        println!("written to {}", page.display());
        if let Status::Failed(why) = status(&verdicts) {
            failed.push(format!("{}: {why}", lab.dir_name));
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("\n"));
    }
    Ok(())
}

fn status(verdicts: &[Verdict]) -> Status {
    let missed: Vec<String> = verdicts
        .iter()
        .filter_map(|v| {
            let why = v.caught_by.as_ref().err()?;
            Some(format!(
                "{} (step {}): {}\n    {}",
                v.entry.name,
                v.entry.step,
                v.entry.description,
                testrun::first_lines(why, 6).replace('\n', "\n    ")
            ))
        })
        .collect();
    if missed.is_empty() {
        return Status::Passed;
    }
    Status::Failed(format!(
        "{} of {} wrong answers are not caught at their own step; strengthen that step's tests (or fix the entry):\n  {}",
        missed.len(),
        verdicts.len(),
        missed.join("\n  ")
    ))
}

fn print_verdicts(verdicts: &[Verdict]) {
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            let (result, detail) = match &v.caught_by {
                Ok(test) => (ui::green("caught"), test.clone()),
                Err(why) => (
                    ui::red("NOT CAUGHT"),
                    why.lines().next().unwrap_or("").to_owned(),
                ),
            };
            vec![
                v.entry.step.to_string(),
                v.entry.name.clone(),
                result,
                detail,
            ]
        })
        .collect();
    println!(
        "{}",
        ui::table(&["step", "wrong answer", "result", "by / why"], &rows)
    );
}

/// Applies each of the lab's wrong answers to a copy of the course solved up to its step
/// and says which test caught it. Empty when the lab has no corpus.
pub fn check_lab(where_: &Where, lab: &workspace::Lab) -> Result<Vec<Verdict>> {
    let steps = steps::load(&lab.dir)?;
    let entries = corpus::load(where_.course, &lab.dir_name, &steps)?;
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let scratch = Scratch::new(where_, lab)?;
    let mut verdicts = Vec::new();
    for step in &steps.steps {
        let mine: Vec<Entry> = entries
            .iter()
            .filter(|e| e.step == step.id)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        crate::derive::write(&scratch.lab, step.id)?;
        verdicts.extend(check_stage(&scratch, step, mine, None)?);
    }
    Ok(verdicts)
}

/// `verify --cumulative`'s check of one lab: the cumulative check, and at each of its
/// stages the wrong answers of that stage's step, so no stage is derived, built and tested
/// twice. One status for both: the cumulative problems first, then the escaped entries.
pub fn verify_with_cumulative(where_: &Where, lab: &workspace::Lab) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    let entries = corpus::load(where_.course, &lab.dir_name, &steps)?;
    let mut verdicts = Vec::new();
    let cumulative = labsteps::stage_by_stage(
        where_,
        lab,
        !entries.is_empty(),
        &mut |scratch, step, judged| {
            let mine: Vec<Entry> = entries
                .iter()
                .filter(|e| e.step == step.id)
                .cloned()
                .collect();
            if !mine.is_empty() {
                verdicts.extend(check_stage(scratch, step, mine, judged)?);
            }
            Ok(())
        },
    )?;
    let wrong = if entries.is_empty() {
        Status::NotRun(format!(
            "no wrong answers: add them under {}/{}",
            corpus::DIR,
            lab.dir_name
        ))
    } else if verdicts.len() < entries.len() {
        Status::Failed(format!(
            "{} of {} wrong answers were not judged: no stage reached their step",
            entries.len() - verdicts.len(),
            entries.len()
        ))
    } else {
        print_verdicts(&verdicts);
        status(&verdicts)
    };
    Ok(match (cumulative, wrong) {
        (Status::Failed(a), Status::Failed(b)) => Status::Failed(format!("{a}\n{b}")),
        (Status::Failed(why), _) | (_, Status::Failed(why)) => Status::Failed(why),
        (Status::NotRun(a), Status::NotRun(b)) => Status::NotRun(format!("{a}; {b}")),
        (Status::NotRun(why), _) | (_, Status::NotRun(why)) => Status::NotRun(why),
        (Status::Passed, Status::Passed) => Status::Passed,
    })
}

/// The entries of one step, in the copy already derived to that step's stage. `judged` is
/// what the cumulative check saw of step N there; `None` means nobody looked, so its tests
/// are run once without any mistake first (else no entry of that step can be judged).
fn check_stage(
    scratch: &Scratch,
    step: &Step,
    entries: Vec<Entry>,
    judged: labsteps::StageVerdict,
) -> Result<Vec<Verdict>> {
    let unsound = match judged {
        Some(verdict) => verdict.err(),
        None => unsound(scratch, step)?,
    };
    let mut verdicts = Vec::new();
    for entry in entries {
        let started = Instant::now();
        let caught_by = match &unsound {
            Some(why) => Err(why.clone()),
            None => try_entry(scratch, step, &entry)?,
        };
        println!(
            "  {} {} ({:.0} s)",
            if caught_by.is_ok() {
                "caught"
            } else {
                "NOT caught"
            },
            entry.name,
            started.elapsed().as_secs_f64()
        );
        verdicts.push(Verdict { entry, caught_by });
    }
    Ok(verdicts)
}

/// Why step N's stage cannot judge its entries: with steps 1..N solved and no mistake, some
/// step N test fails already (it needs a later step's code, or the solution is broken).
fn unsound(scratch: &Scratch, step: &Step) -> Result<Option<String>> {
    let results = match labsteps::build_and_run(&scratch.here(), &scratch.lab, &step.tests)? {
        Ok(results) => results,
        Err(errors) => {
            return Ok(Some(format!(
                "cannot judge: steps 1 to {} solved do not compile:\n{}",
                step.id,
                testrun::first_lines(&errors, 12)
            )));
        }
    };
    Ok(results
        .iter()
        .find(|r| step.proves(&r.name) && !r.outcome.passed())
        .map(|test| {
            format!(
                "cannot judge: with steps 1 to {} solved and no mistake, {} fails already: {}",
                step.id,
                test.name,
                testrun::first_lines(&test.outcome.explanation(), 3)
            )
        }))
}

/// One entry in the scratch copy (solved up to its step), the file put back afterwards.
fn try_entry(scratch: &Scratch, step: &Step, entry: &Entry) -> Result<Result<String, String>> {
    let file = scratch.lab.dir.join(&entry.file);
    let pristine = std::fs::read_to_string(&file)?;
    let wrong = match corpus::apply(&pristine, entry) {
        Ok(wrong) => wrong,
        Err(why) => return Ok(Err(format!("cannot be applied: {why:#}"))),
    };
    std::fs::write(&file, wrong)?;
    let run = labsteps::build_and_run(&scratch.here(), &scratch.lab, &step.tests);
    std::fs::write(&file, pristine)?;
    let results = match run? {
        Ok(results) => results,
        Err(errors) => {
            return Ok(Err(format!(
                "does not compile (a wrong answer must build, as a learner's would):\n{}",
                testrun::first_lines(&errors, 12)
            )));
        }
    };
    Ok(judge(step, entry, &results))
}

/// Caught when a test of the entry's step fails with a message that names what was
/// expected and a book page.
fn judge(step: &Step, entry: &Entry, results: &[TestResult]) -> Result<String, String> {
    let own: Vec<&TestResult> = results.iter().filter(|r| step.proves(&r.name)).collect();
    if own.is_empty() {
        return Err(format!("no step {} test ran", step.id));
    }
    // By name, not in the order the parallel tests happened to finish: the report must
    // name the same test on every run.
    let mut failing: Vec<&&TestResult> = own.iter().filter(|r| !r.outcome.passed()).collect();
    failing.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(first) = failing.first() else {
        return Err(format!(
            "every step {} test passes with it ({} tests)",
            step.id,
            own.len()
        ));
    };
    let pages = pages(step, entry);
    match failing
        .iter()
        .find(|r| explains(&r.outcome.explanation(), &pages))
    {
        Some(test) => Ok(test.name.clone()),
        None => Err(format!(
            "step {} fails, but no failure names what was expected and the book page (book/src/...); {}: {}",
            step.id,
            first.name,
            first.outcome.explanation()
        )),
    }
}

/// The pages a message may point to: the step's, and the region's own when it has one.
fn pages(step: &Step, entry: &Entry) -> Vec<String> {
    let mut pages = vec![step.book.clone()];
    if let Some(book) = step
        .regions
        .iter()
        .find(|r| r.anchor == entry.region)
        .and_then(|r| r.book.clone())
    {
        pages.push(book);
    }
    pages
}

/// A message that helps: it names a book page, and what was expected (in words, as the two
/// sides of a failed `assert_eq!`, or as what `kit::within` was waiting for).
pub fn explains(message: &str, pages: &[String]) -> bool {
    let names_page = message.contains("book/src/") || pages.iter().any(|p| message.contains(p));
    let lower = message.to_lowercase();
    let names_expected =
        lower.contains("expected") || lower.contains("waiting for") || message.contains("left:");
    names_page && names_expected
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture course (tests/fixtures/course) has three wrong answers: one its step 1
    /// tests catch, one step 2 fails with a message naming no page, one step 3 passes.
    #[test]
    fn the_fixture_corpus_has_one_caught_and_two_reported_with_their_description() {
        let scratch = tempfile::tempdir().unwrap();
        let course = scratch.path().join("course");
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
        crate::grade::copy_tree(&fixture, &course).unwrap();
        let lab = workspace::labs_in(&course).unwrap().remove(0);
        let target = scratch.path().join("target");
        let here = Where {
            course: &course,
            target_dir: Some(&target),
        };
        let verdicts = check_lab(&here, &lab).unwrap();
        let found: Vec<(&str, Result<&str, &str>)> = verdicts
            .iter()
            .map(|v| {
                let caught_by = v
                    .caught_by
                    .as_ref()
                    .map(String::as_str)
                    .map_err(String::as_str);
                (v.entry.name.as_str(), caught_by)
            })
            .collect();
        assert_eq!(found[0], ("add/subtracts", Ok("step1_adds")), "{found:?}");
        assert_eq!(found[1].0, "greet/no-comma");
        let why = found[1].1.unwrap_err();
        assert!(
            why.contains("no failure names what was expected and the book page"),
            "{why}"
        );
        assert!(why.contains("step2_greets"), "{why}");
        assert_eq!(found[2].0, "countdown/happy-path-only");
        assert_eq!(
            found[2].1,
            Err("every step 3 test passes with it (1 tests)")
        );
        // verify fails, naming each entry that escaped with its description.
        let Status::Failed(why) = verify_with_cumulative(&here, &lab).unwrap() else {
            panic!("two wrong answers escape: verify must fail");
        };
        assert!(
            why.starts_with("2 of 3 wrong answers are not caught"),
            "{why}"
        );
        assert!(
            why.contains(
                "countdown/happy-path-only (step 3): hard-codes the one case the test tries"
            ),
            "{why}"
        );
        assert!(
            why.contains("greet/no-comma (step 2): forgets the comma after Hello"),
            "{why}"
        );
    }

    #[test]
    fn a_helpful_message_names_the_page_and_the_expectation() {
        let pages = vec!["demo/add.md".to_owned()];
        assert!(explains(
            "expected 5, got -1 (see book/src/demo/add.md)",
            &pages
        ));
        assert!(explains(
            "assertion failed: see demo/add.md\n  left: 1\n right: 2",
            &pages
        ));
        assert!(!explains("expected 5, got -1", &pages));
        assert!(!explains("not yet implemented (see book/src/x.md)", &pages));
    }
}
