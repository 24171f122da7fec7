//! The book's `{{#steps NN-x}}` directive: a lab page's steps table, read from the lab's
//! `steps.toml`, so the page and the tooling can never disagree.
//!
//! An in-process mdBook preprocessor. It renders each step's number, title, points and
//! the page that explains it (by the page's title), then the step's hints as nested `<details>` blocks, so the
//! second hint only appears once the first is opened, as `cargo xtask hint` unfolds them.
//! An unknown lab name is an error: a typo must fail the build, not print nothing.
//! `{{#steps-json NN-x}}` gives the same steps as JSON, for the live panels.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

use crate::steps::{self, Steps};

const DIRECTIVE: &str = "{{#steps ";
const JSON_DIRECTIVE: &str = "{{#steps-json ";

pub struct StepsTables {
    /// Where `labs/` is.
    pub course: PathBuf,
}

impl Preprocessor for StepsTables {
    fn name(&self) -> &str {
        "course-steps"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> Result<Book> {
        let mut failure = None;
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            let has_directive =
                chapter.content.contains(DIRECTIVE) || chapter.content.contains(JSON_DIRECTIVE);
            if failure.is_some() || !has_directive {
                return;
            }
            let page = chapter.path.clone().unwrap_or_default();
            match expand(&chapter.content, &page, &self.course) {
                Ok(content) => chapter.content = content,
                Err(error) => {
                    failure = Some(error.context(format!("in book/src/{}", page.display())))
                }
            }
        });
        match failure {
            Some(error) => Err(error),
            None => Ok(book),
        }
    }

    fn supports_renderer(&self, _renderer: &str) -> Result<bool> {
        Ok(true)
    }
}

/// Every lab name a page's `{{#steps ...}}` directives name (escaped ones skipped).
pub fn directives(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(DIRECTIVE) {
        let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
        let after = &rest[start + DIRECTIVE.len()..];
        let Some(end) = after.find("}}") else { break };
        if !escaped {
            found.push(after[..end].trim().to_owned());
        }
        rest = &after[end..];
    }
    found
}

/// Loads a lab's steps by name, refusing names that are not a lab.
pub fn load_lab(course: &Path, name: &str) -> Result<Steps> {
    let dir = course.join("labs").join(name);
    let is_plain_name = !name.is_empty() && !name.contains(['/', '\\', '.']);
    if !is_plain_name || !steps::path(&dir).is_file() {
        let known: Vec<String> = crate::workspace::labs_in(course)
            .map(|labs| labs.into_iter().map(|l| l.dir_name).collect())
            .unwrap_or_default();
        bail!(
            "{{{{#steps {name}}}}} names no lab with a steps.toml; the labs are: {}",
            known.join(", ")
        );
    }
    steps::load(&dir)
}

fn expand(content: &str, page: &Path, course: &Path) -> Result<String> {
    let tables = expand_directive(content, DIRECTIVE, |name| {
        render(name, &load_lab(course, name)?, page, course)
    })?;
    expand_directive(&tables, JSON_DIRECTIVE, |name| {
        render_json(&load_lab(course, name)?, page, course)
    })
}

/// Replaces each `{{#<directive> NAME}}` by `render(NAME)`; `\{{#...}}` is shown literally.
fn expand_directive(
    content: &str,
    directive: &str,
    mut render: impl FnMut(&str) -> Result<String>,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = content;
    while let Some(start) = rest.find(directive) {
        let after = &rest[start + directive.len()..];
        let end = after
            .find("}}")
            .with_context(|| format!("a `{}` without its closing `}}}}`", directive.trim()))?;
        if start > 0 && rest.as_bytes()[start - 1] == b'\\' {
            // Escaped: shown literally, without the backslash.
            out.push_str(&rest[..start - 1]);
            out.push_str(&rest[start..start + directive.len() + end + 2]);
        } else {
            out.push_str(&rest[..start]);
            out.push_str(&render(after[..end].trim())?);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `{{#steps-json NN-x}}`: each step's title and page as JSON, for a live panel's
/// `data-steps='...'` attribute (so a panel can say which step is missing, from steps.toml).
/// Quotes, `&` and `<` are escaped as `\uXXXX`, which keeps it valid JSON inside the attribute.
fn render_json(steps: &Steps, page: &Path, course: &Path) -> Result<String> {
    let mut map = serde_json::Map::new();
    for step in &steps.steps {
        let link = relative_link(page, &step.book.replace(".md", ".html"));
        map.insert(
            step.id.to_string(),
            serde_json::json!({
                "title": step.title,
                "page": link,
                "pageTitle": page_title(course, &step.book)?,
            }),
        );
    }
    let json = serde_json::Value::Object(map).to_string();
    Ok(json
        .replace('\'', "\\u0027")
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e"))
}

/// A link from `page` to `target` (both relative to `book/src`).
fn relative_link(page: &Path, target: &str) -> String {
    let depth = page
        .parent()
        .map(|p| {
            p.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .count()
        })
        .unwrap_or(0);
    format!("{}{target}", "../".repeat(depth))
}

/// A page's title, as its reader sees it: its first `# ` heading.
fn page_title(course: &Path, target: &str) -> Result<String> {
    let file = course.join("book/src").join(target);
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("a step's page {target} does not exist"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|title| title.trim().to_owned())
        .with_context(|| format!("{target} has no `# ` title"))
}

/// The Markdown for one lab's steps.
pub fn render(name: &str, steps: &Steps, page: &Path, course: &Path) -> Result<String> {
    // The spelling every command suggests (`01`), so it never reads as a step number.
    let number = name.split('-').next().unwrap_or(name);
    let mut out =
        String::from("| step | what you build | points | explained in |\n|---|---|---|---|\n");
    for step in &steps.steps {
        out.push_str(&format!(
            "| {} | {} | {} | [{}]({}) |\n",
            step.id,
            step.title.replace('|', "\\|"),
            step.points,
            page_title(course, &step.book)?.replace('|', "\\|"),
            relative_link(page, &step.book)
        ));
    }
    out.push_str(&format!(
        "\n**{} points in all.** `cargo xtask check {number}` runs the tests and shows the first failing step; `cargo xtask hint {number}` gives its hints one at a time.\n\n",
        steps.total_points()
    ));
    for step in &steps.steps {
        if step.hints.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<details><summary>Hints for step {}: {}</summary>\n\n",
            step.id, step.title
        ));
        for (i, hint) in step.hints.iter().enumerate() {
            out.push_str(&format!(
                "<details><summary>Hint {}</summary>\n\n{hint}\n\n",
                i + 1
            ));
        }
        out.push_str(&"</details>\n".repeat(step.hints.len()));
        out.push_str("\n</details>\n\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course")
    }

    #[test]
    fn the_directive_becomes_a_table_and_unfolding_hints() {
        let page = Path::new("demo/lab.md");
        let text = "# Lab\n\n{{#steps 01-demo}}\n\nThe end. \\{{#steps shown}}";
        let out = expand(text, page, &course()).unwrap();
        assert!(
            out.contains("| 1 | Add | 10 | [add](../demo/add.md) |"),
            "{out}"
        );
        assert!(out.contains("| 3 | Count down | 30 |"), "{out}");
        assert!(
            out.contains("**60 points in all.** `cargo xtask check 01`"),
            "{out}"
        );
        let first = out.find("<summary>Hint 1</summary>\n\nUse +.").unwrap();
        let second = out.find("<summary>Hint 2</summary>\n\na + b").unwrap();
        let closing = out[second..].find("</details>\n</details>").unwrap();
        assert!(first < second && closing > 0, "hint 2 is nested in hint 1");
        assert!(out.ends_with("The end. {{#steps shown}}"), "{out}");
    }

    #[test]
    fn an_unknown_lab_fails_with_the_known_ones() {
        let error = expand("{{#steps 01-dmeo}}", Path::new("a.md"), &course()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("names no lab"), "{message}");
        assert!(message.contains("the labs are: 01-demo"), "{message}");
        assert!(expand("{{#steps ../01-demo}}", Path::new("a.md"), &course()).is_err());
    }

    /// A real mdBook build with the preprocessor registered, as `book::build` does.
    fn build_page(page: &str) -> Result<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/demo")).unwrap();
        std::fs::write(dir.path().join("book.toml"), "[book]\ntitle = \"t\"\n").unwrap();
        std::fs::write(
            dir.path().join("src/SUMMARY.md"),
            "# Summary\n\n- [Lab](demo/lab.md)\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("src/demo/lab.md"), page).unwrap();
        let mut book = mdbook_driver::MDBook::load(dir.path())?;
        book.with_preprocessor(StepsTables { course: course() });
        book.build()?;
        Ok(std::fs::read_to_string(
            dir.path().join("book/demo/lab.html"),
        )?)
    }

    #[test]
    fn the_book_renders_the_table_and_fails_on_an_unknown_lab() {
        let html = build_page("# Lab\n\n{{#steps 01-demo}}\n").unwrap();
        assert!(html.contains("<td>Count down</td>"), "{html}");
        assert!(html.contains("<summary>Hint 2</summary>"), "{html}");
        assert!(html.contains("href=\"../demo/add.html\""), "{html}");
        let error = build_page("{{#steps 07-nothing}}").unwrap_err();
        assert!(format!("{error:#}").contains("names no lab"), "{error:#}");
    }

    #[test]
    fn the_json_directive_gives_titles_and_pages_for_an_attribute() {
        let out = expand(
            "<div data-steps='{{#steps-json 01-demo}}'>",
            Path::new("demo/lab.md"),
            &course(),
        )
        .unwrap();
        let json = out
            .strip_prefix("<div data-steps='")
            .and_then(|rest| rest.strip_suffix("'>"))
            .unwrap_or_else(|| panic!("one attribute, no quote inside: {out}"));
        let steps: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(steps["1"]["title"], "Add", "{out}");
        assert_eq!(steps["1"]["page"], "../demo/add.html", "{out}");
        assert_eq!(steps["1"]["pageTitle"], "add", "{out}");
    }

    #[test]
    fn directives_are_found() {
        assert_eq!(
            directives("a {{#steps 01-transports}} b \\{{#steps no}} {{#steps 02-socketio }}"),
            vec!["01-transports", "02-socketio"]
        );
    }
}
