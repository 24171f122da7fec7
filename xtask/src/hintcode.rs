//! The code in a lab's hints compiles, because it is the solution's own code.
//!
//! A hint that shows code a learner cannot paste (a `?` in a function returning `()`, a
//! method that does not exist) costs more than no hint. Compiling each snippet alone is
//! not possible (it needs its function around it), so the rule is: every code span of a
//! hint that is code rather than a name (it holds `(`, `=`, `;` or `{`) appears in the
//! solution's `src/`, whitespace aside. Names and paths (`tokio::time::interval`,
//! `Ended::FellBehind`) may be quoted freely, and so may a span that elides on purpose
//! with `..` (`Ended::FellBehind { .. }`): nobody pastes it as it is. `verify` runs it on
//! every lab; a lab not yet in [`ENFORCED`] is reported, not failed.

use std::path::Path;

use anyhow::{Context, Result};

use crate::steps;
use crate::verify::Status;
use crate::workspace::Lab;

/// The labs whose hints must pass. A lab joins once its hints do; until then `verify`
/// lists what it would refuse.
pub const ENFORCED: &[&str] = &[
    "01-transports",
    "02-socketio",
    "03-scaling",
    "04-security",
    "05-production",
];

/// `verify`'s check for one lab.
pub fn hints_are_solution_code(lab: &Lab) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    let solution = solution_text(&lab.solution_dir.join("src"))?;
    let mut wrong = Vec::new();
    for step in &steps.steps {
        for (i, hint) in step.hints.iter().enumerate() {
            for span in foreign_spans(hint, &solution) {
                wrong.push(format!("step {} hint {}: `{span}`", step.id, i + 1));
            }
        }
    }
    if wrong.is_empty() {
        return Ok(Status::Passed);
    }
    let why = format!(
        "code in these hints is not in {}/src, so nothing proves it compiles; copy it from \
         the solution, or quote a name instead:\n  {}",
        lab.solution_dir.display(),
        wrong.join("\n  ")
    );
    Ok(if ENFORCED.contains(&lab.dir_name.as_str()) {
        Status::Failed(why)
    } else {
        Status::NotRun(format!(
            "add it to hintcode::ENFORCED once these hint spans are the solution's code: {}",
            wrong.join("; ")
        ))
    })
}

/// The hint's code spans that are code and that the solution does not contain.
pub fn foreign_spans<'a>(hint: &'a str, solution_squeezed: &str) -> Vec<&'a str> {
    code_spans(hint)
        .into_iter()
        .filter(|span| is_code(span))
        .filter(|span| !solution_squeezed.contains(&squeeze(span)))
        .collect()
}

/// The text between backticks.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn is_code(span: &str) -> bool {
    span.contains(['(', '=', ';', '{']) && !span.contains("..")
}

/// Code without its layout: no whitespace, no trailing comma before a closing bracket
/// (rustfmt adds one when it breaks a call over lines).
pub fn squeeze(code: &str) -> String {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .replace(",)", ")")
        .replace(",]", "]")
        .replace(",}", "}")
}

fn solution_text(src: &Path) -> Result<String> {
    let mut all = String::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                all.push_str(&std::fs::read_to_string(&path)?);
            }
        }
    }
    Ok(squeeze(&all))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "fn connection() {\n    let _ = sink.flush().await;\n    let hold = hold_for(\n        &query,\n        max,\n    )?;\n}";

    #[test]
    fn code_must_be_the_solutions_and_names_are_free() {
        let solution = squeeze(SOLUTION);
        assert!(foreign_spans("`let _ = sink.flush().await;` then stop", &solution).is_empty());
        assert!(
            foreign_spans("`hold_for(&query, max)?` is the time", &solution).is_empty(),
            "layout and rustfmt's trailing comma do not matter"
        );
        assert!(foreign_spans("use `tokio::time::interval`", &solution).is_empty());
        assert!(foreign_spans("`Ended::FellBehind { .. }`", &solution).is_empty());
        assert_eq!(
            foreign_spans("`sink.send(frame?).await` and `x`", &solution),
            vec!["sink.send(frame?).await"],
            "code the solution does not have is reported"
        );
    }
}

#[cfg(test)]
mod course {
    use super::*;

    #[test]
    fn the_course_labs_hints_are_their_solutions_code() {
        for lab in crate::workspace::labs().unwrap() {
            if !ENFORCED.contains(&lab.dir_name.as_str()) {
                continue;
            }
            if let Status::Failed(why) = hints_are_solution_code(&lab).unwrap() {
                panic!("{}: {why}", lab.dir_name);
            }
        }
    }
}
