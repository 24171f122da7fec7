//! No answer before its step: a book page that includes a learner's region from a
//! SOLUTION file must fold it.
//!
//! A learner reads a chapter's pages before its lab, so code the lab leaves as `todo!`
//! would be the answer handed out in advance. The rule: every `{{#include}}` of
//! `solutions/NN-x/...:anchor`, where `anchor` is a `[[step.region]]` of `labs/NN-x/steps.toml`,
//! sits inside a `<details>` block whose `<summary>` names that region's step ("step N"),
//! as in "Solution of step 4: ... (open it after trying step 4)". Anchors that are not
//! learner regions (given code) and includes from the labs are free to show.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};

use crate::steps;

/// Checks every page under `book/src` of the course at `course`.
pub fn check(course: &Path) -> Result<()> {
    let src = course.join("book/src");
    let mut regions = RegionSteps::new(course);
    let mut problems = Vec::new();
    for page in crate::book::markdown_files(&src)? {
        let text = std::fs::read_to_string(&page)?;
        let shown = page.strip_prefix(course).unwrap_or(&page).to_path_buf();
        let folder = page.parent().expect("a page has a folder").to_path_buf();
        problems.extend(unfolded(
            &text,
            &shown.display().to_string(),
            |path, anchor| regions.step_of(&folder.join(path), anchor),
        ));
    }
    if !problems.is_empty() {
        bail!(
            "the book shows a lab's answer before its step (fold it under <details> whose \
             <summary> names the step, e.g. \"Solution of step N: ... (open it after trying \
             step N)\", or include the lab's file instead):\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// The problems of one page: each include of a learner region (`step_of` gives its step)
/// that no enclosing `<details>` names by its step, as `file:line: ...`.
pub fn unfolded(
    text: &str,
    shown: &str,
    mut step_of: impl FnMut(&str, &str) -> Option<u32>,
) -> Vec<String> {
    let mut problems = Vec::new();
    // One entry per open <details>: the text of its <summary> so far.
    let mut open: Vec<String> = Vec::new();
    let mut in_summary = false;
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while !rest.is_empty() {
            let next = Token::next(rest);
            let Some((at, token, len)) = next else {
                if in_summary && let Some(summary) = open.last_mut() {
                    summary.push_str(rest);
                    summary.push(' ');
                }
                break;
            };
            if in_summary && let Some(summary) = open.last_mut() {
                summary.push_str(&rest[..at]);
            }
            match token {
                Token::DetailsOpen => open.push(String::new()),
                Token::DetailsClose => {
                    open.pop();
                }
                Token::SummaryOpen => in_summary = true,
                Token::SummaryClose => in_summary = false,
                Token::Include(argument) => {
                    let Some((path, anchor)) = argument.split_once(':') else {
                        rest = &rest[at + len..];
                        continue;
                    };
                    let (path, anchor) = (path.trim(), anchor.trim());
                    if let Some(step) = step_of(path, anchor)
                        && !open.iter().any(|summary| names_step(summary, step))
                    {
                        problems.push(format!(
                            "{shown}:{}: includes region `{anchor}` of {path}, the answer to \
                             step {step}, outside a <details> whose <summary> names \"step {step}\"",
                            number + 1
                        ));
                    }
                }
            }
            rest = &rest[at + len..];
        }
    }
    problems
}

/// Whether a summary names step `step` ("step 4", not "step 42").
fn names_step(summary: &str, step: u32) -> bool {
    let summary = summary.to_ascii_lowercase();
    let wanted = format!("step {step}");
    summary.match_indices(&wanted).any(|(at, _)| {
        !summary[at + wanted.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

enum Token<'a> {
    DetailsOpen,
    DetailsClose,
    SummaryOpen,
    SummaryClose,
    /// The argument of `{{#include ...}}`.
    Include(&'a str),
}

impl<'a> Token<'a> {
    /// The first token in `text`: its offset, the token and its length.
    fn next(text: &'a str) -> Option<(usize, Token<'a>, usize)> {
        let mut best: Option<(usize, Token<'a>, usize)> = None;
        for tag in ["<details", "</details>", "<summary", "</summary>"] {
            if let Some(at) = text.find(tag)
                && best.as_ref().is_none_or(|(b, _, _)| at < *b)
            {
                let token = match tag {
                    "<details" => Token::DetailsOpen,
                    "</details>" => Token::DetailsClose,
                    "<summary" => Token::SummaryOpen,
                    _ => Token::SummaryClose,
                };
                // `<summary ...>`: the tag ends at its `>`.
                let len = text[at..].find('>').map_or(tag.len(), |end| end + 1);
                best = Some((at, token, len));
            }
        }
        if let Some(at) = find_unescaped(text, "{{#include ")
            && best.as_ref().is_none_or(|(b, _, _)| at < *b)
        {
            let after = &text[at + "{{#include ".len()..];
            if let Some(end) = after.find("}}") {
                let len = "{{#include ".len() + end + 2;
                best = Some((at, Token::Include(&after[..end]), len));
            }
        }
        best
    }
}

fn find_unescaped(text: &str, needle: &str) -> Option<usize> {
    text.match_indices(needle)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || text.as_bytes()[at - 1] != b'\\')
}

/// The step each learner region belongs to, per lab, read once from `steps.toml`.
struct RegionSteps {
    course: PathBuf,
    labs: HashMap<String, HashMap<String, u32>>,
}

impl RegionSteps {
    fn new(course: &Path) -> RegionSteps {
        RegionSteps {
            course: normalize(course),
            labs: HashMap::new(),
        }
    }

    /// The step of `anchor` when `file` is a solution's file and `anchor` a learner region.
    fn step_of(&mut self, file: &Path, anchor: &str) -> Option<u32> {
        let inside = normalize(file);
        let relative = inside.strip_prefix(&self.course).ok()?;
        let mut parts = relative.components();
        if parts.next()?.as_os_str() != "solutions" {
            return None;
        }
        let chapter = parts.next()?.as_os_str().to_string_lossy().into_owned();
        let course = self.course.clone();
        let regions = self.labs.entry(chapter.clone()).or_insert_with(|| {
            steps::load(&course.join("labs").join(&chapter))
                .map(|steps| {
                    steps
                        .steps
                        .iter()
                        .flat_map(|s| s.regions.iter().map(|r| (r.anchor.clone(), s.id)))
                        .collect()
                })
                .unwrap_or_default()
        });
        regions.get(anchor).copied()
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rooms.rs:join` is step 4's region; everything else is given code.
    fn step_of(path: &str, anchor: &str) -> Option<u32> {
        (path.contains("solutions/") && anchor == "join").then_some(4)
    }

    #[test]
    fn an_unfolded_answer_fails_with_file_line_region_and_step() {
        let page = "# Rooms\n\n```rust\n{{#include ../../../solutions/02-socketio/src/rooms.rs:join}}\n```\n";
        let problems = unfolded(page, "book/src/02-socketio/rooms.md", step_of);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert!(
            problem.starts_with("book/src/02-socketio/rooms.md:4: includes region `join`"),
            "{problem}"
        );
        assert!(problem.contains("step 4"), "{problem}");
    }

    #[test]
    fn a_folded_answer_that_names_its_step_passes() {
        let page = "<details>\n<summary>Solution of step 4: join (open it after trying step 4)</summary>\n\n\
                    ```rust\n{{#include ../../../solutions/02-socketio/src/rooms.rs:join}}\n```\n</details>\n";
        assert_eq!(unfolded(page, "p.md", step_of), Vec::<String>::new());
        // A summary over several lines, and one on the same line as <details>.
        let split = "<details><summary>The solution\nof step 4</summary>\n{{#include ../solutions/x.rs:join}}\n</details>";
        assert_eq!(unfolded(split, "p.md", step_of), Vec::<String>::new());
    }

    #[test]
    fn a_fold_that_names_another_step_or_is_closed_does_not_count() {
        let wrong = "<details><summary>Solution of step 42</summary>\n{{#include ../solutions/x.rs:join}}\n</details>";
        assert_eq!(unfolded(wrong, "p.md", step_of).len(), 1);
        let closed =
            "<details><summary>step 4</summary>\n</details>\n{{#include ../solutions/x.rs:join}}";
        assert_eq!(unfolded(closed, "p.md", step_of).len(), 1);
    }

    #[test]
    fn given_code_lab_files_and_escaped_includes_are_free() {
        let page = "{{#include ../solutions/x.rs:given}}\n{{#include ../labs/x.rs:join}}\n\\{{#include ../solutions/x.rs:join}}\n";
        assert_eq!(unfolded(page, "p.md", step_of), Vec::<String>::new());
    }

    #[test]
    fn regions_are_found_in_a_solution_file_of_the_lab_with_that_steps_toml() {
        let course = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut regions = RegionSteps::new(&course);
        let page_dir = course.join("book/src/02-socketio");
        assert_eq!(
            regions.step_of(
                &page_dir.join("../../../solutions/02-socketio/src/rooms.rs"),
                "join"
            ),
            Some(4)
        );
        assert_eq!(
            regions.step_of(
                &page_dir.join("../../../labs/02-socketio/src/rooms.rs"),
                "join"
            ),
            None
        );
        assert!(names_step("Solution of Step 4: x", 4));
        assert!(!names_step("step 41", 4));
    }

    /// The course's own book follows the rule.
    #[test]
    fn the_book_folds_every_answer() {
        let course = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        check(&course).unwrap();
    }
}
