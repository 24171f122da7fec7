//! `cargo xtask mutants LAB [-- ARGS]`: mutation testing of a lab's solution with the
//! lab's own tests, by cargo-mutants.
//!
//! The score is caught / (caught + missed). Timeouts count as caught: a mutant that makes
//! the tests hang was noticed (the grader would fail that step too). Unviable mutants
//! (that do not compile) count for nothing. The score per lab goes into the instructors'
//! appendix, between the `<!-- mutation-scores -->` markers, so it can be rewritten.
//! By default only the functions the learner writes in are mutated (those holding a
//! `[[step.region]]` of steps.toml, in the files where the lab has a `todo!(`): that is the
//! code the lab's tests must pin down. The code around them is the course's own, given to
//! the learner and tested by the solution's other test binaries (chapter 2's extension
//! points, for instance); mutating it too would measure those tests with the wrong binary,
//! and the whole solution would take hours on two cores. Only the lab's test binary runs
//! against each mutant. Extra arguments after `--` go to cargo-mutants for a narrower
//! run (`--shard 0/4` samples the default scope; `--file`, `--in-diff` replace it); the
//! table says which.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::{ui, workspace};

const START: &str = "<!-- mutation-scores -->";
const END: &str = "<!-- /mutation-scores -->";
/// The bar every lab's tests must reach.
const BAR: f64 = 90.0;

#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct Counts {
    #[serde(default)]
    pub caught: u32,
    #[serde(default)]
    pub missed: u32,
    #[serde(default)]
    pub timeout: u32,
    #[serde(default)]
    pub unviable: u32,
}

impl Counts {
    /// Percentage of viable mutants the tests catch (timeouts count as caught).
    pub fn score(&self) -> Option<f64> {
        let viable = self.caught + self.timeout + self.missed;
        (viable > 0).then(|| 100.0 * f64::from(self.caught + self.timeout) / f64::from(viable))
    }
}

pub fn mutants(lab: &str, extra: &[String]) -> Result<()> {
    let lab = workspace::find_lab(lab)?;
    let installed = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        bail!(
            "cargo-mutants is not installed: run `cargo install cargo-mutants --locked` (a few minutes), then this again"
        );
    }
    let out_dir = workspace::root()
        .join("target/xtask/mutants")
        .join(&lab.dir_name);
    std::fs::create_dir_all(&out_dir)?;
    ui::step(&format!(
        "cargo mutants on {} with the lab's tests (one build and test run per mutant: this takes a while)",
        lab.solution_package
    ));
    let learner_files = learner_files(&lab)?;
    let learner_functions = learner_functions(&lab)?;
    // Extra arguments add to the default scope (`--shard 1/4` samples the learner's
    // functions), unless they choose files themselves.
    let own_files = extra.iter().any(|a| {
        a == "--file" || a == "-f" || a.starts_with("--file=") || a.starts_with("--in-diff")
    });
    let mut scope: Vec<String> = if own_files {
        Vec::new()
    } else {
        learner_files
            .iter()
            .flat_map(|f| ["--file".to_owned(), f.clone()])
            .chain(["--re".to_owned(), functions_regex(&learner_functions)])
            .collect()
    };
    scope.extend(extra.iter().cloned());
    if !own_files {
        println!("learner's functions: {}", learner_functions.join(", "));
    }
    let mut command = workspace::cargo();
    // cargo-mutants builds each mutant in a scratch copy of the workspace, with that copy's own
    // `target/`. An inherited CARGO_TARGET_DIR would send the mutated builds into the learner's
    // or maintainer's target directory instead.
    command.env_remove("CARGO_TARGET_DIR");
    command
        .args(["mutants", "--package", &lab.solution_package])
        .args(["--test-package", &lab.solution_package])
        .args(["--timeout", "120", "--build-timeout", "600", "--no-shuffle"])
        .arg("--output")
        .arg(&out_dir)
        .args(&scope);
    // The lab's test binary is the one that proves the steps; other suites (interop,
    // browser) need tools the mutation run should not depend on.
    let lab_tests = lab_test_targets(&lab)?;
    if !lab_tests.is_empty() {
        command.arg("--");
        for name in &lab_tests {
            command.args(["--test", name]);
        }
    }
    // A listing changes nothing to record; and a run must not report an earlier run's outcomes.
    let listing = extra.iter().any(|a| a == "--list" || a == "--list-files");
    let outcomes = out_dir.join("mutants.out/outcomes.json");
    let _ = std::fs::remove_file(&outcomes);
    let started = std::time::Instant::now();
    let status = command.status().context("running cargo mutants")?;
    if listing {
        return Ok(());
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let measured = format!(
        "{}, {} min, {cpus} CPU(s)",
        crate::bench::today(),
        started.elapsed().as_secs().div_ceil(60)
    );
    // cargo-mutants exits non-zero when mutants are missed; the outcomes still count.
    let counts = read_counts(&outcomes).with_context(|| {
        format!(
            "cargo mutants ({status}) left no readable {}",
            outcomes.display()
        )
    })?;
    let Some(score) = counts.score() else {
        bail!(
            "cargo mutants found no viable mutant in {}",
            lab.solution_package
        );
    };
    let survivors =
        std::fs::read_to_string(out_dir.join("mutants.out/missed.txt")).unwrap_or_default();
    println!(
        "\n{}: {score:.1}% of viable mutants caught ({} caught, {} timeouts counted as caught, {} missed, {} unviable)",
        lab.dir_name, counts.caught, counts.timeout, counts.missed, counts.unviable
    );
    if !survivors.trim().is_empty() {
        println!(
            "{}",
            ui::bold("survivors (the tests pass with these changes):")
        );
        for line in survivors.lines() {
            println!("  {line}");
        }
    }
    let scope = if !own_files {
        let short: Vec<&str> = learner_files
            .iter()
            .map(|f| {
                f.split_once("/src/")
                    .map_or(f.as_str(), |(_, inside)| inside)
            })
            .collect();
        let sample = if extra.is_empty() {
            String::new()
        } else {
            format!(" (sample: {})", extra.join(" "))
        };
        // In code spans: a trait impl's name (`<impl Trait for Type>::f`) is not an HTML tag.
        let functions: Vec<String> = learner_functions.iter().map(|f| format!("`{f}`")).collect();
        format!(
            "learner's functions: {} in {}{sample}",
            functions.join(", "),
            short.join(", ")
        )
    } else {
        format!("cargo mutants {}", extra.join(" "))
    };
    let row = table_row(&lab.dir_name, &counts, score, &measured, &scope);
    let page = workspace::root().join("book/src/appendix/grading.md");
    write_row(&page, &lab.dir_name, &row)?;
    println!("written to {}", page.display());
    if score < BAR {
        bail!(
            "{score:.1}% is under the {BAR}% bar: strengthen the tests of {} against the survivors above",
            lab.dir_name
        );
    }
    Ok(())
}

/// The solution's files where the lab has a `todo!(` (where the learner writes), as
/// paths from the workspace root: cargo-mutants matches a `--file` with a `/` from there,
/// so `src/websocket.rs` and `src/engine/websocket.rs` stay apart.
fn learner_files(lab: &workspace::Lab) -> Result<Vec<String>> {
    let root = workspace::root();
    let src = lab.dir.join("src");
    let solution_src = lab.solution_dir.join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)?.contains("todo!(")
            {
                let inside = path.strip_prefix(&src).expect("under src");
                let solution_file = solution_src.join(inside);
                let shown = solution_file.strip_prefix(&root).unwrap_or(&solution_file);
                files.push(shown.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The functions that hold the lab's learner regions, qualified as cargo-mutants names them
/// (`LocalAdapter::recipients`, or `run` for a free function), sorted and deduplicated.
fn learner_functions(lab: &workspace::Lab) -> Result<Vec<String>> {
    let steps = crate::steps::load(&lab.dir)?;
    let sources = rust_files(&lab.solution_dir.join("src"))?
        .into_iter()
        .map(|path| Ok(std::fs::read_to_string(&path)?))
        .collect::<Result<Vec<String>>>()?;
    let mut functions = Vec::new();
    for region in steps.steps.iter().flat_map(|s| &s.regions) {
        let marker = format!("// ANCHOR: {}", region.anchor);
        let found = sources.iter().find_map(|text| {
            let lines: Vec<&str> = text.lines().collect();
            let at = lines.iter().position(|l| l.trim() == marker)?;
            enclosing_function(&lines[..=signature_below(&lines, at).unwrap_or(at)])
        });
        match found {
            Some(name) => functions.push(name),
            None => bail!(
                "region `{}` of {}: no function encloses its anchor in the solution",
                region.anchor,
                lab.dir_name
            ),
        }
    }
    functions.sort();
    functions.dedup();
    Ok(functions)
}

/// A region that is a whole `fn` has its anchor just above the signature (doc comments and
/// attributes may sit between them): the signature's line.
fn signature_below(lines: &[&str], anchor: usize) -> Option<usize> {
    let is_decoration = |l: &&str| {
        let t = l.trim_start();
        t.starts_with("///") || t.starts_with("#[")
    };
    let offset = lines
        .get(anchor + 1..)?
        .iter()
        .position(|l| !is_decoration(l))?;
    let at = anchor + 1 + offset;
    is_fn_line(lines[at]).then_some(at)
}

/// Whether `line` opens a function.
fn is_fn_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    [
        "fn ",
        "pub fn ",
        "pub(crate) fn ",
        "async fn ",
        "pub async fn ",
        "pub(crate) async fn ",
    ]
    .iter()
    .any(|start| trimmed.starts_with(start))
}

/// The function a region's anchor sits in (the last `fn` above it), prefixed by the type of
/// the `impl` block around it, if any. A region that is a whole `fn` (its anchor just above)
/// is named by the line after the anchor.
fn enclosing_function(lines_to_anchor: &[&str]) -> Option<String> {
    let fn_name = |line: &str| {
        let (_, rest) = line.split_once("fn ")?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    };
    let (at, name) = lines_to_anchor
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, line)| {
            let trimmed = line.trim_start();
            is_fn_line(line)
                .then(|| fn_name(trimmed).map(|n| (i, n)))
                .flatten()
        })?;
    // An `impl` opened at column 0 above the fn, with no item closed at column 0 between.
    let owner = lines_to_anchor[..at].iter().rev().find_map(|line| {
        if line.starts_with('}') {
            return Some(None);
        }
        let rest = line.strip_prefix("impl")?;
        let head = rest.split('{').next()?.trim();
        let head = head
            .strip_prefix('<')
            .map_or(head, |h| h.split_once('>').map_or(h, |(_, t)| t))
            .trim();
        Some(impl_name(head))
    });
    Some(match owner.flatten() {
        Some(owner) => format!("{owner}::{name}"),
        None => name,
    })
}

/// How cargo-mutants names the functions of an `impl` block whose head (generics removed)
/// is `head`: the type as written for `impl Type` (`Reader<'_>`), `<impl Trait for Type>`
/// with the trait's last path segment for a trait impl. `None` for `impl Default for ...`,
/// whose functions cargo-mutants does not mutate.
fn impl_name(head: &str) -> Option<String> {
    let tidy = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (trait_path, ty) = match head.split_once(" for ") {
        Some((trait_path, ty)) => (Some(trait_path.trim()), tidy(ty)),
        None => (None, tidy(head)),
    };
    if ty.is_empty() {
        return None;
    }
    let Some(trait_path) = trait_path else {
        return Some(ty);
    };
    let trait_name: String = trait_path
        .rsplit("::")
        .next()
        .unwrap_or(trait_path)
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if trait_name.is_empty() || trait_name == "Default" {
        return None;
    }
    Some(format!("<impl {trait_name} for {ty}>"))
}

/// cargo-mutants' `--re`: mutants whose name says they are in one of `functions`, either
/// `replace FN -> ...` (the body) or `... in FN` (an operator inside it).
fn functions_regex(functions: &[String]) -> String {
    let names: Vec<String> = functions.iter().map(|f| regex_escape(f)).collect();
    format!("(replace | in )({})( |$)", names.join("|"))
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The solution's `[[test]]` targets whose path is in the lab's `tests/` folder.
fn lab_test_targets(lab: &workspace::Lab) -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(lab.solution_dir.join("Cargo.toml"))?;
    let manifest: toml::Value = toml::from_str(&manifest)?;
    let lab_tests = format!("labs/{}/tests/", lab.dir_name);
    Ok(manifest
        .get("test")
        .and_then(|t| t.as_array())
        .map(|tests| {
            tests
                .iter()
                .filter(|t| {
                    t.get("path")
                        .and_then(|p| p.as_str())
                        .is_some_and(|p| p.contains(&lab_tests))
                })
                .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[derive(Deserialize)]
struct OutcomesFile {
    #[serde(flatten)]
    counts: Counts,
}

fn read_counts(file: &Path) -> Result<Counts> {
    let text = std::fs::read_to_string(file)?;
    let parsed: OutcomesFile = serde_json::from_str(&text)?;
    Ok(parsed.counts)
}

fn table_row(lab: &str, counts: &Counts, score: f64, measured: &str, scope: &str) -> String {
    format!(
        "| {lab} | {score:.0}% | {} | {} | {} | {} | {measured} | {scope} |",
        counts.caught, counts.timeout, counts.missed, counts.unviable
    )
}

/// Puts `row` for `lab` into the marker block of `page`, keeping the other labs' rows.
pub fn write_row(page: &Path, lab: &str, row: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
    let updated = with_row(&text, lab, row).with_context(|| {
        format!(
            "{} has no `{START}` marker where the scores go",
            page.display()
        )
    })?;
    std::fs::write(page, updated)?;
    Ok(())
}

pub fn with_row(text: &str, lab: &str, row: &str) -> Option<String> {
    let start = text.find(START)?;
    let after_start = start + START.len();
    let end = text[after_start..].find(END).map(|i| after_start + i);
    let block = end.map(|e| &text[after_start..e]).unwrap_or("");
    let mut rows: Vec<String> = block
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| lab ") && !l.starts_with("|---"))
        .filter(|l| !l.starts_with(&format!("| {lab} |")))
        .map(str::to_owned)
        .collect();
    rows.push(row.to_owned());
    rows.sort();
    let table = format!(
        "{START}\n| lab | score | caught | timeouts (caught) | missed | unviable | measured | scope |\n|---|---|---|---|---|---|---|---|\n{}\n{END}",
        rows.join("\n")
    );
    let rest = match end {
        Some(e) => &text[e + END.len()..],
        None => &text[after_start..],
    };
    Some(format!("{}{table}{rest}", &text[..start]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_named_by_its_function_and_impl() {
        let source = "impl LocalAdapter {\n    fn other() {}\n    pub fn recipients(&self) {\n        // ANCHOR: recipients";
        let lines: Vec<&str> = source.lines().collect();
        assert_eq!(
            super::enclosing_function(&lines).as_deref(),
            Some("LocalAdapter::recipients")
        );
        // cargo-mutants names a trait impl's methods `<impl Trait for Type>::name` (lab 03's
        // `publish` is in `impl Adapter for RedisAdapter`), and keeps a type's lifetimes.
        let source = "impl<T> socketio::Adapter for RedisAdapter {\n    fn broadcast(&self) {\n        // ANCHOR: publish";
        let lines: Vec<&str> = source.lines().collect();
        assert_eq!(
            super::enclosing_function(&lines).as_deref(),
            Some("<impl Adapter for RedisAdapter>::broadcast")
        );
        let source = "impl Reader<'_> {\n    fn next(&self) {\n        // ANCHOR: next";
        let lines: Vec<&str> = source.lines().collect();
        assert_eq!(
            super::enclosing_function(&lines).as_deref(),
            Some("Reader<'_>::next")
        );
        assert_eq!(
            super::functions_regex(&["<impl Adapter for RedisAdapter>::broadcast".into()]),
            "(replace | in )(<impl Adapter for RedisAdapter>::broadcast)( |$)"
        );
        // A whole-fn region: the slice ends at the signature under the anchor.
        let whole =
            "impl Authenticator {\n    // ANCHOR: authenticate\n    async fn authenticate(&self) {";
        let lines: Vec<&str> = whole.lines().collect();
        assert_eq!(super::signature_below(&lines, 1), Some(2));
        let documented = [
            "// ANCHOR: validate",
            "/// Checks.",
            "#[inline]",
            "pub fn validate() {",
        ];
        assert_eq!(super::signature_below(&documented, 0), Some(3));
        let inside = ["fn f() {", "    // ANCHOR: x", "    let a = 1;"];
        assert_eq!(super::signature_below(&inside, 1), None);
        assert_eq!(
            super::enclosing_function(&lines).as_deref(),
            Some("Authenticator::authenticate")
        );
        let free = "impl A {\n}\n\npub async fn run(x: u8) {\n    // ANCHOR: heartbeat";
        let lines: Vec<&str> = free.lines().collect();
        assert_eq!(super::enclosing_function(&lines).as_deref(), Some("run"));
        assert_eq!(
            super::functions_regex(&["A::b".into(), "run".into()]),
            "(replace | in )(A::b|run)( |$)"
        );
    }

    #[test]
    fn timeouts_count_as_caught_and_unviable_count_for_nothing() {
        let counts: Counts = serde_json::from_str(
            r#"{"total_mutants": 20, "caught": 15, "missed": 2, "timeout": 3, "unviable": 5}"#,
        )
        .unwrap();
        assert_eq!(counts.score(), Some(90.0));
        assert_eq!(Counts::default().score(), None);
    }

    #[test]
    fn the_marker_block_is_written_then_rewritten() {
        let page = "# Grading\n\nThe table:\n\n<!-- mutation-scores -->\n";
        let once = with_row(
            page,
            "01-a",
            "| 01-a | 80% | 8 | 0 | 2 | 1 | whole solution |",
        )
        .unwrap();
        assert!(once.contains("| 01-a | 80% |"));
        assert!(once.ends_with("<!-- /mutation-scores -->\n"), "{once}");
        let twice = with_row(
            &once,
            "02-b",
            "| 02-b | 95% | 19 | 0 | 1 | 0 | whole solution |",
        )
        .unwrap();
        let thrice = with_row(
            &twice,
            "01-a",
            "| 01-a | 91% | 10 | 0 | 1 | 1 | whole solution |",
        )
        .unwrap();
        assert!(thrice.contains("| 01-a | 91% |") && !thrice.contains("| 01-a | 80% |"));
        assert!(thrice.contains("| 02-b | 95% |"));
        assert_eq!(thrice.matches("<!-- mutation-scores -->").count(), 1);
        assert!(thrice.starts_with("# Grading\n\nThe table:\n\n"));
        assert!(with_row("no markers", "01-a", "| x |").is_none());
    }
}
