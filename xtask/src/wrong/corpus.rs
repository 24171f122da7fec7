//! The corpus of wrong answers: plausible mistakes a learner makes in a region, as data.
//!
//! One TOML file per learner region, `xtask/tests/wrong-answers/<lab>/<anchor>.toml`, far
//! from the lab so a learner doing it does not read the answers' mistakes first. A file
//! names its region, the file that holds it and the step whose tests must catch it; each
//! `[[wrong]]` is one mistake: a one-line description and either the region's whole wrong
//! `body` or `edits` (text found exactly once in the region, and what replaces it). Both
//! are applied between `// ANCHOR: name` and `// ANCHOR_END: name`, so the rest of the
//! solution can change without touching the corpus.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::steps::Steps;

/// Where a course keeps its wrong answers, relative to its root.
pub const DIR: &str = "xtask/tests/wrong-answers";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionFile {
    /// The anchor, as in steps.toml's `[[step.region]]`.
    region: String,
    /// The file holding the region, relative to the lab (and solution) crate: `src/feed.rs`.
    file: PathBuf,
    /// The step whose tests must catch every entry: the region's step.
    step: u32,
    #[serde(rename = "wrong", default)]
    entries: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// Short, unique in the file: names the entry in reports.
    slug: String,
    /// One line: the mistake, as a reviewer would describe it.
    description: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    edits: Vec<Edit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub find: String,
    pub with: String,
}

/// How an entry changes the region.
#[derive(Debug, Clone)]
pub enum Change {
    /// The region's lines, all replaced.
    Body(String),
    /// Replacements, each of a text found exactly once in the region.
    Edits(Vec<Edit>),
}

/// One wrong answer, ready to apply.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `long_poll/only-the-waking-message`
    pub name: String,
    pub description: String,
    pub region: String,
    pub file: PathBuf,
    pub step: u32,
    pub change: Change,
}

/// A lab's corpus, sorted by step then name, checked against its steps.toml; empty when the
/// lab has no folder.
pub fn load(course: &Path, lab_dir_name: &str, steps: &Steps) -> Result<Vec<Entry>> {
    let dir = course.join(DIR).join(lab_dir_name);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let file: RegionFile =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        entries.extend(check(file, steps).with_context(|| format!("in {}", path.display()))?);
    }
    entries.sort_by(|a, b| (a.step, &a.name).cmp(&(b.step, &b.name)));
    Ok(entries)
}

fn check(file: RegionFile, steps: &Steps) -> Result<Vec<Entry>> {
    let owner = steps
        .steps
        .iter()
        .find(|s| s.regions.iter().any(|r| r.anchor == file.region));
    match owner {
        None => bail!(
            "region {:?} is no [[step.region]] of steps.toml",
            file.region
        ),
        Some(step) if step.id != file.step => bail!(
            "region {:?} belongs to step {}, not step {}: the step that must catch its mistakes is its own",
            file.region,
            step.id,
            file.step
        ),
        Some(_) => {}
    }
    if file.entries.is_empty() {
        bail!("no [[wrong]] entry");
    }
    let mut out = Vec::new();
    for raw in file.entries {
        let change = match (raw.body, raw.edits.is_empty()) {
            (Some(body), true) => Change::Body(body),
            (None, false) => Change::Edits(raw.edits),
            _ => bail!("entry {:?}: give either `body` or `edits`", raw.slug),
        };
        if raw.description.trim().is_empty() || raw.description.contains('\n') {
            bail!("entry {:?}: the description is one line", raw.slug);
        }
        let name = format!("{}/{}", file.region, raw.slug);
        if out.iter().any(|e: &Entry| e.name == name) {
            bail!("two entries are named {name}");
        }
        out.push(Entry {
            name,
            description: raw.description,
            region: file.region.clone(),
            file: file.file.clone(),
            step: file.step,
            change,
        });
    }
    Ok(out)
}

/// `text` (a source file) with the entry's region changed, or why it cannot be.
pub fn apply(text: &str, entry: &Entry) -> Result<String> {
    let start_marker = format!("// ANCHOR: {}", entry.region);
    let end_marker = format!("// ANCHOR_END: {}", entry.region);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == start_marker)
        .with_context(|| format!("no `{start_marker}` in {}", entry.file.display()))?;
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].trim() == end_marker)
        .with_context(|| format!("no `{end_marker}` in {}", entry.file.display()))?;
    let region: String = lines[start + 1..end].concat();
    let wrong = match &entry.change {
        Change::Body(body) => {
            let mut body = body.clone();
            if !body.ends_with('\n') {
                body.push('\n');
            }
            body
        }
        Change::Edits(edits) => {
            let mut changed = region.clone();
            for edit in edits {
                match changed.matches(&edit.find).count() {
                    1 => changed = changed.replacen(&edit.find, &edit.with, 1),
                    0 => bail!(
                        "the region {} no longer contains {:?}: adapt the entry to the solution",
                        entry.region,
                        edit.find
                    ),
                    n => bail!(
                        "{:?} occurs {n} times in the region {}: make it unique",
                        edit.find,
                        entry.region
                    ),
                }
            }
            changed
        }
    };
    if wrong == region {
        bail!("the entry leaves the region as it is: it is no mistake");
    }
    let mut out: String = lines[..=start].concat();
    out.push_str(&wrong);
    out.push_str(&lines[end..].concat());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn add(a: i32, b: i32) -> i32 {\n    // ANCHOR: add\n    a + b\n    // ANCHOR_END: add\n}\n";

    fn entry(change: Change) -> Entry {
        Entry {
            name: "add/x".into(),
            description: "x".into(),
            region: "add".into(),
            file: "src/lib.rs".into(),
            step: 1,
            change,
        }
    }

    #[test]
    fn a_body_or_edits_replace_only_the_region() {
        let body = apply(SOURCE, &entry(Change::Body("    a - b".into()))).unwrap();
        assert_eq!(body, SOURCE.replace("a + b", "a - b"));
        let edits = Change::Edits(vec![Edit {
            find: "+ b".into(),
            with: "+ b + 1".into(),
        }]);
        let edited = apply(SOURCE, &entry(edits)).unwrap();
        assert_eq!(edited, SOURCE.replace("a + b", "a + b + 1"));
    }

    #[test]
    fn a_stale_or_empty_entry_is_refused() {
        let missing = Change::Edits(vec![Edit {
            find: "a * b".into(),
            with: "b".into(),
        }]);
        let why = apply(SOURCE, &entry(missing)).unwrap_err().to_string();
        assert!(why.contains("no longer contains"), "{why}");
        let same = apply(SOURCE, &entry(Change::Body("    a + b\n".into())));
        assert!(same.unwrap_err().to_string().contains("no mistake"));
        let elsewhere = apply("fn f() {}\n", &entry(Change::Body("x".into())));
        assert!(
            elsewhere
                .unwrap_err()
                .to_string()
                .contains("no `// ANCHOR: add`")
        );
    }
}
