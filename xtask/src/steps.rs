//! `labs/NN-x/steps.toml`: the one source of truth for a lab's steps.
//!
//! `check`, `hint`, `grade`, `verify` and the book's `{{#steps}}` tables all read this
//! model, so a step's title, page, hints, points and tests are written once. `validate`
//! compares it with the tests that exist: a test no step claims, or a step no test
//! proves, would silently change a learner's score, so `verify` fails on either.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::verify::is_graded;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Steps {
    pub lab: LabInfo,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabInfo {
    pub title: String,
    /// The lab page, relative to `book/src`.
    pub book: String,
    /// `cargo xtask derive`: doc lines put at the top of the lab's `lib.rs`.
    #[serde(default)]
    pub lib_header: Option<String>,
    /// `cargo xtask derive`: lints the lab's `lib.rs` allows while steps are `todo!`.
    #[serde(default)]
    pub lib_allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: u32,
    pub title: String,
    /// The page that explains this step, relative to `book/src`.
    pub book: String,
    pub points: u32,
    /// Test-name prefixes (after the last `::`) that prove this step.
    pub tests: Vec<String>,
    /// In the order they unfold.
    #[serde(default)]
    pub hints: Vec<String>,
    /// The solution's code this step's learner writes (`cargo xtask derive`).
    #[serde(rename = "region", default)]
    pub regions: Vec<Region>,
}

/// A learner region: the solution's code between `// ANCHOR: name` and
/// `// ANCHOR_END: name`, which the lab replaces with an explanation and a `todo!`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub anchor: String,
    /// The `todo!` message after `step N: `, as inside a format string (`{x:?}`, `{{`).
    pub todo: String,
    /// The comment above the `todo!`.
    pub explain: String,
    /// The page the `todo!` names, when not the step's.
    #[serde(default)]
    pub book: Option<String>,
    /// An expression around the `todo!` (`{todo}`), when its type cannot be `!`.
    #[serde(default)]
    pub wrap: Option<String>,
    /// Variables only the region used: `let _ = (...);` keeps the lab warning-free.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Imports only the region used (`a::b::C`, `a::{B, C}`): the lab drops them and says so.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Fields only the region reads (`Struct.field`): the lab marks them `allow(dead_code)`.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The file's path for a lab directory.
pub fn path(lab_dir: &Path) -> std::path::PathBuf {
    lab_dir.join("steps.toml")
}

/// Reads `steps.toml` from a lab directory.
pub fn load(lab_dir: &Path) -> Result<Steps> {
    let file = path(lab_dir);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "reading {}: every lab needs one (see CONTRIBUTING.md, \"Step metadata\")",
            file.display()
        )
    })?;
    parse(&text).with_context(|| format!("{} is not valid step metadata", file.display()))
}

pub fn parse(text: &str) -> Result<Steps> {
    Ok(toml::from_str(text)?)
}

/// A test's short name: what follows the last `::`.
pub fn short_name(test: &str) -> &str {
    test.rsplit("::").next().unwrap_or(test)
}

impl Step {
    pub fn proves(&self, test: &str) -> bool {
        let name = short_name(test);
        self.tests.iter().any(|prefix| name.starts_with(prefix))
    }

    /// The book page as served by `cargo xtask serve`, and as a file.
    pub fn page_links(&self) -> (String, String) {
        page_links(&self.book)
    }
}

/// `01-transports/sse.md` → the served URL and the source file.
pub fn page_links(book: &str) -> (String, String) {
    let html = book.strip_suffix(".md").unwrap_or(book);
    (
        format!("http://127.0.0.1:3000/{html}.html"),
        format!("book/src/{book}"),
    )
}

impl Steps {
    pub fn total_points(&self) -> u32 {
        self.steps.iter().map(|s| s.points).sum()
    }

    /// The step a test proves, if any (the first one; `validate` ensures there is one).
    pub fn step_of(&self, test: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.proves(test))
    }

    /// Everything that disagrees between this file and the tests that exist (`tests`:
    /// full names as libtest lists them), and, given `book_src`, the pages it names.
    pub fn validate(&self, tests: &[String], book_src: Option<&Path>) -> Vec<String> {
        let mut problems = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            let expected = index as u32 + 1;
            if step.id != expected {
                problems.push(format!(
                    "step {} is listed in position {expected}: number steps 1, 2, 3... in order",
                    step.id
                ));
            }
            if step.tests.is_empty() || step.tests.iter().any(|p| p.is_empty()) {
                problems.push(format!(
                    "step {} has no test prefixes (or an empty one, which matches every test)",
                    step.id
                ));
            }
            if step.hints.is_empty() {
                problems.push(format!("step {} has no hints: give at least one", step.id));
            }
            if !tests.iter().any(|t| step.proves(t)) {
                problems.push(format!(
                    "step {} ({}) matches no test: no test name starts with {}",
                    step.id,
                    step.title,
                    step.tests.join(" or ")
                ));
            }
        }
        if self.steps.is_empty() {
            problems.push("there is no [[step]]".into());
        }
        for test in tests.iter().filter(|t| is_graded(t)) {
            let owners: Vec<String> = self
                .steps
                .iter()
                .filter(|s| s.proves(test))
                .map(|s| s.id.to_string())
                .collect();
            match owners.len() {
                0 => problems.push(format!(
                    "graded test {test} belongs to no step: add its prefix to a step's `tests`"
                )),
                1 => {}
                _ => problems.push(format!(
                    "graded test {test} is claimed by steps {}: make the prefixes disjoint",
                    owners.join(", ")
                )),
            }
        }
        if let Some(src) = book_src {
            let pages = std::iter::once(&self.lab.book).chain(self.steps.iter().map(|s| &s.book));
            for page in pages {
                if !src.join(page).exists() {
                    problems.push(format!("book page {page} does not exist in book/src"));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[lab]
title = "Transports"
book = "01-transports/lab.md"

[[step]]
id = 1
title = "Publish"
book = "01-transports/short-polling.md"
points = 10
tests = ["step1_"]
hints = ["a", "b"]

[[step]]
id = 2
title = "SSE"
book = "01-transports/sse.md"
points = 5
tests = ["step2_"]
hints = ["c"]
"#;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_sample_parses_and_agrees_with_its_tests() {
        let steps = parse(SAMPLE).unwrap();
        assert_eq!(steps.total_points(), 15);
        let tests = names(&["step1_publish", "wire::step2_sse", "helper_works"]);
        assert_eq!(steps.validate(&tests, None), Vec::<String>::new());
        assert_eq!(steps.step_of("wire::step2_sse").unwrap().id, 2);
        assert!(steps.step_of("helper_works").is_none());
    }

    #[test]
    fn orphan_tests_and_steps_without_tests_are_reported() {
        let steps = parse(SAMPLE).unwrap();
        let problems = steps.validate(&names(&["step1_publish", "step3_extra"]), None);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("step 2 (SSE) matches no test"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("step3_extra belongs to no step"))
        );
    }

    #[test]
    fn overlapping_prefixes_are_reported() {
        let text = SAMPLE.replace("tests = [\"step2_\"]", "tests = [\"step\"]");
        let problems = parse(&text).unwrap().validate(&names(&["step1_a"]), None);
        assert!(problems.iter().any(|p| p.contains("claimed by steps 1, 2")));
    }

    #[test]
    fn out_of_order_ids_and_unknown_fields_are_refused() {
        let text = SAMPLE.replace("id = 2", "id = 3");
        let problems = parse(&text)
            .unwrap()
            .validate(&names(&["step1_a", "step2_b"]), None);
        assert!(problems.iter().any(|p| p.contains("position 2")));
        assert!(parse(&SAMPLE.replace("points = 5", "point = 5")).is_err());
    }

    #[test]
    fn missing_book_pages_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("01-transports")).unwrap();
        std::fs::write(dir.path().join("01-transports/lab.md"), "").unwrap();
        std::fs::write(dir.path().join("01-transports/sse.md"), "").unwrap();
        let problems = parse(SAMPLE)
            .unwrap()
            .validate(&names(&["step1_a", "step2_b"]), Some(dir.path()));
        assert_eq!(
            problems,
            vec!["book page 01-transports/short-polling.md does not exist in book/src"]
        );
    }

    #[test]
    fn page_links_point_at_the_served_book_and_the_source() {
        assert_eq!(
            page_links("01-transports/sse.md"),
            (
                "http://127.0.0.1:3000/01-transports/sse.html".to_owned(),
                "book/src/01-transports/sse.md".to_owned()
            )
        );
    }
}
