//! `cargo xtask derive LAB`: writes a lab's `src/` from its solution's, so the two cannot drift.
//!
//! Each learner region of the solution (between `// ANCHOR: name` and `// ANCHOR_END: name`,
//! listed as a `[[step.region]]` in the lab's steps.toml) becomes a comment explaining the
//! step and a `todo!`. The ANCHOR lines stay, so the book can include the lab's version
//! too. What the removed code alone used (variables, imports, fields) is declared per region
//! and handled so the lab compiles without warnings. Everything else is copied, with the
//! solution's package name turned into the lab's; the output goes through rustfmt, so the
//! lab is exactly what `cargo fmt` would leave. `--check` compares instead of writing
//! (`verify` runs it), and `--solved N` keeps steps 1..N solved, to check that the lab's
//! tests progress step by step. It also keeps the lab's snapshot headers naming the lab's
//! test file (`snapheader`).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::steps::{self, Region, Step, Steps};
use crate::verify::Status;
use crate::workspace::{self, Lab};

#[derive(clap::Args)]
pub struct DeriveArgs {
    /// Lab number or name.
    #[arg(required_unless_present = "all")]
    lab: Option<String>,
    /// Every lab.
    #[arg(long, conflicts_with = "lab")]
    all: bool,
    /// Write nothing; fail listing the files that differ.
    #[arg(long)]
    check: bool,
    /// Keep steps 1..=N solved (to check the lab's tests step by step). Do not commit this.
    #[arg(long, default_value_t = 0)]
    solved: u32,
}

pub fn run(args: DeriveArgs) -> Result<()> {
    let labs = match &args.lab {
        Some(query) => vec![workspace::find_lab(query)?],
        None => workspace::labs()?,
    };
    let mut stale = Vec::new();
    for lab in &labs {
        let steps = steps::load(&lab.dir)?;
        if !has_regions(&steps) {
            println!(
                "{}: no [[step.region]] in steps.toml, so its lab is not derived; skipped",
                lab.dir_name
            );
            continue;
        }
        let differences = differences(lab, &steps, args.solved)?;
        if args.check {
            for (path, why) in &differences {
                stale.push(format!("{} ({why})", path.display()));
            }
        } else {
            write(lab, args.solved)?;
            println!(
                "{}: {} file(s) rewritten from {}",
                lab.dir_name,
                differences.len(),
                lab.solution_dir.display()
            );
        }
    }
    if !stale.is_empty() {
        bail!(
            "the lab differs from what its solution derives; run `cargo xtask derive LAB`:\n  {}",
            stale.join("\n  ")
        );
    }
    Ok(())
}

/// `verify`'s check: the lab as shipped is what `derive` writes.
pub fn lab_is_derived(lab: &Lab) -> Result<Status> {
    let steps = steps::load(&lab.dir)?;
    if !has_regions(&steps) {
        return Ok(Status::NotRun(
            "no [[step.region]] in steps.toml: the lab is written by hand".into(),
        ));
    }
    let differences = differences(lab, &steps, 0)?;
    if differences.is_empty() {
        return Ok(Status::Passed);
    }
    let list: Vec<_> = differences
        .iter()
        .map(|(path, why)| format!("{} ({why})", path.display()))
        .collect();
    Ok(Status::Failed(format!(
        "run `cargo xtask derive {}`; these files differ:\n  {}",
        lab.dir_name,
        list.join("\n  ")
    )))
}

fn has_regions(steps: &Steps) -> bool {
    steps.steps.iter().any(|s| !s.regions.is_empty())
}

/// The lab's `src/` files that `derive` would change, relative to the workspace root.
fn differences(lab: &Lab, steps: &Steps, solved: u32) -> Result<Vec<(PathBuf, &'static str)>> {
    let derived = derive_tree(lab, steps, solved)?;
    let lab_src = lab.dir.join("src");
    let root = workspace::root();
    let relative = |p: &Path| p.strip_prefix(&root).unwrap_or(p).to_path_buf();
    let mut out = Vec::new();
    for (path, content) in &derived {
        let target = lab_src.join(path);
        match std::fs::read(&target) {
            Ok(existing) if existing == *content => {}
            Ok(_) => out.push((relative(&target), "differs")),
            Err(_) => out.push((relative(&target), "missing from the lab")),
        }
    }
    for path in files(&lab_src)? {
        if !derived.contains_key(&path) {
            out.push((relative(&lab_src.join(path)), "only in the lab"));
        }
    }
    for snapshot in crate::snapheader::stale(lab)? {
        out.push((
            relative(&snapshot),
            "its `source:` names the solution's path to the test file",
        ));
    }
    Ok(out)
}

/// Rewrites the lab's `src/` with steps 1..=`solved` solved: changed files only (so cargo
/// rebuilds no more than needed), and files the solution does not have are deleted (the
/// lab's `src/` is all derived).
pub fn write(lab: &Lab, solved: u32) -> Result<()> {
    let steps = steps::load(&lab.dir)?;
    let derived = derive_tree(lab, &steps, solved)?;
    let lab_src = lab.dir.join("src");
    for (path, content) in &derived {
        let target = lab_src.join(path);
        if std::fs::read(&target).ok().as_ref() != Some(content) {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, content)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    for path in files(&lab_src)? {
        if !derived.contains_key(&path) {
            std::fs::remove_file(lab_src.join(&path))?;
        }
    }
    crate::snapheader::fix(lab)?;
    Ok(())
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The lab's `src/` as derived from the solution's: relative path → content.
fn derive_tree(lab: &Lab, steps: &Steps, solved: u32) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let solution_src = lab.solution_dir.join("src");
    let mut used = HashSet::new();
    let mut out = BTreeMap::new();
    for path in files(&solution_src)? {
        let bytes = std::fs::read(solution_src.join(&path))?;
        let Ok(text) = String::from_utf8(bytes.clone()) else {
            out.insert(path, bytes);
            continue;
        };
        let mut derived = text.replace(&lab.solution_package, &lab.package);
        if path.extension().is_some_and(|e| e == "rs") {
            derived = derive_file(&derived, steps, solved, &mut used)
                .with_context(|| format!("deriving {}", path.display()))?;
            if path == Path::new("lib.rs") {
                derived = lib_preamble(&derived, steps);
            }
            if derived != text {
                derived =
                    rustfmt(&derived).with_context(|| format!("formatting {}", path.display()))?;
            }
        }
        out.insert(path, derived.into_bytes());
    }
    let missing: Vec<_> = steps
        .steps
        .iter()
        .flat_map(|s| &s.regions)
        .filter(|r| !used.contains(&r.anchor))
        .map(|r| r.anchor.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "steps.toml names anchors the solution does not have: {}",
            missing.join(", ")
        );
    }
    Ok(out)
}

/// The lab's header and allowed lints (steps.toml's `[lab]`), at the top of `lib.rs`.
fn lib_preamble(text: &str, steps: &Steps) -> String {
    let mut out = String::new();
    if let Some(header) = &steps.lab.lib_header {
        for line in header.trim_end().lines() {
            out.push_str(format!("//! {line}").trim_end());
            out.push('\n');
        }
        out.push_str("//!\n");
    }
    let mut inserted = steps.lab.lib_allow.is_empty();
    for line in text.lines() {
        let trimmed = line.trim();
        if !inserted && !trimmed.is_empty() && !trimmed.starts_with("//!") {
            out.push_str(
                "// While steps are `todo!`, the helpers they will use look unused to the compiler.\n",
            );
            out.push_str(&format!(
                "#![allow({})]\n\n",
                steps.lab.lib_allow.join(", ")
            ));
            inserted = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `cargo fmt`'s formatting of one file (edition 2024, the workspace's settings).
fn rustfmt(text: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(workspace::root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (rustup component add rustfmt)")?;
    child
        .stdin
        .take()
        .context("rustfmt's stdin")?
        .write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "rustfmt refused the derived code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// One source file with its unsolved regions replaced (not formatted). `used` collects the
/// anchors found, so a steps.toml entry that matches nothing is reported.
pub fn derive_file(
    text: &str,
    steps: &Steps,
    solved: u32,
    used: &mut HashSet<String>,
) -> Result<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::new();
    // Declared per region, applied outside the regions once they are all replaced.
    let mut needs: Vec<(u32, &Region)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some((indent, name)) = anchor(line) else {
            out.push(line.to_owned());
            i += 1;
            continue;
        };
        let Some((step, region)) = find_region(steps, name) else {
            out.push(line.to_owned());
            i += 1;
            continue;
        };
        used.insert(name.to_owned());
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == format!("// ANCHOR_END: {name}"))
            .with_context(|| format!("// ANCHOR: {name} has no ANCHOR_END"))?;
        if step.id <= solved {
            out.extend(lines[i..=end].iter().map(|l| l.to_string()));
            i = end + 1;
            continue;
        }
        needs.push((step.id, region));
        out.push(line.to_owned());
        let body = &lines[i + 1..end];
        match function(body) {
            Some((signature_start, signature_end)) => {
                // The region is a whole function: keep its signature, replace its body,
                // and drop what follows it in the region (helpers the learner writes).
                out.extend(body[..signature_start].iter().map(|l| l.to_string()));
                for l in &body[signature_start..=signature_end] {
                    out.push(strip_mut_parameters(l));
                }
                let fn_indent = leading(body[signature_start]);
                let close = format!("{fn_indent}}}");
                if !body[signature_end + 1..].iter().any(|l| *l == close) {
                    bail!("region {name}: the function's closing brace is not at its indentation");
                }
                out.extend(stub(&format!("{fn_indent}    "), step, region, true));
                out.push(close);
            }
            None => {
                // Code after the region (not a closing brace) needs the todo as a statement.
                let follows = lines.get(end + 1).map_or("}", |l| l.trim());
                out.extend(stub(indent, step, region, follows.starts_with('}')));
            }
        }
        out.push(lines[end].to_owned());
        i = end + 1;
    }
    let mut text = out.join("\n");
    for (step, region) in needs {
        text = drop_imports(&text, step, &region.needs)
            .with_context(|| format!("region {}", region.anchor))?;
        for field in &region.fields {
            text = mark_field(&text, step, field)
                .with_context(|| format!("region {}", region.anchor))?;
        }
    }
    Ok(text)
}

/// `// ANCHOR: name` → (its indentation, name).
fn anchor(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix("// ANCHOR: ")?;
    let name = rest.trim_end();
    let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    valid.then(|| (leading(line), name))
}

fn leading(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

fn find_region<'a>(steps: &'a Steps, anchor: &str) -> Option<(&'a Step, &'a Region)> {
    steps.steps.iter().find_map(|step| {
        let region = step.regions.iter().find(|r| r.anchor == anchor)?;
        Some((step, region))
    })
}

/// When a region starts (after doc comments and attributes) with a `fn`: the first and last
/// lines of its signature, the last being the one that opens the body.
fn function(body: &[&str]) -> Option<(usize, usize)> {
    let start = body.iter().position(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with("//") || t.starts_with("#["))
    })?;
    let words: Vec<&str> = body[start].split_whitespace().collect();
    let fn_at = words.iter().position(|w| *w == "fn")?;
    let qualifiers = [
        "pub",
        "pub(crate)",
        "pub(super)",
        "async",
        "const",
        "unsafe",
    ];
    if !words[..fn_at].iter().all(|w| qualifiers.contains(w)) {
        return None;
    }
    let end = (start..body.len()).find(|&j| body[j].trim_end().ends_with('{'))?;
    Some((start, end))
}

/// `mut x: T` → `x: T` in a signature: the body that mutated it is gone, and an unused
/// `mut` is a warning. (`&mut T` is a type, left alone.)
fn strip_mut_parameters(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("mut ") {
        let before = &rest[..at];
        let after = &rest[at + 4..];
        let pattern_position = before.is_empty()
            || before.ends_with('(')
            || before.ends_with(", ")
            || before.trim().is_empty();
        let ident_len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let is_binding = ident_len > 0 && after[ident_len..].trim_start().starts_with(':');
        out.push_str(before);
        if !(pattern_position && is_binding) {
            out.push_str("mut ");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The lab's lines for a region: the explanation, `let _ = ...` and the `todo!`.
fn stub(indent: &str, step: &Step, region: &Region, tail: bool) -> Vec<String> {
    let mut out = vec![format!(
        "{indent}// Step {}: {}.",
        step.id,
        readable(&region.todo)
    )];
    for line in region.explain.trim_end().lines() {
        out.push(format!("{indent}// {line}").trim_end().to_owned());
    }
    match region.uses.as_slice() {
        [] => {}
        [one] => out.push(format!("{indent}let _ = {one};")),
        many => out.push(format!("{indent}let _ = ({});", many.join(", "))),
    }
    let book = region.book.as_deref().unwrap_or(&step.book);
    let message = format!("step {}: {} (book: {book})", step.id, region.todo);
    // The message is a format string: keep `{x:?}` and `{{`, escape only quotes.
    let literal = format!("\"{}\"", message.replace('\\', "\\\\").replace('"', "\\\""));
    let todo = format!("todo!({literal})");
    let expression = match &region.wrap {
        Some(wrap) => wrap.replace("{todo}", &todo),
        None => todo,
    };
    out.push(format!(
        "{indent}{expression}{}",
        if tail { "" } else { ";" }
    ));
    out
}

/// A `todo!` format string as prose: `{{` → `{`, `{text:?}` → `` `text` ``.
fn readable(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let inner: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let name = inner.split(':').next().unwrap_or("");
                out.push_str(&format!("`{name}`"));
            }
            c => out.push(c),
        }
    }
    out
}

/// Expands `a::{B, C}` into `[("a", "B"), ("a", "C")]`.
fn expand(path: &str) -> Vec<(String, String)> {
    if let Some((parent, group)) = path.split_once("::{") {
        return group
            .trim_end_matches('}')
            .split(',')
            .map(|leaf| (parent.to_owned(), leaf.trim().to_owned()))
            .collect();
    }
    match path.rsplit_once("::") {
        Some((parent, leaf)) => vec![(parent.to_owned(), leaf.to_owned())],
        None => vec![(String::new(), path.to_owned())],
    }
}

/// Removes the imports only an unsolved region used, and says where they went.
fn drop_imports(text: &str, step: u32, needs: &[String]) -> Result<String> {
    if needs.is_empty() {
        return Ok(text.to_owned());
    }
    let mut wanted: Vec<(String, String)> = needs.iter().flat_map(|n| expand(n)).collect();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::new();
    let mut noted = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !line.starts_with("use ") {
            out.push(line.to_owned());
            i += 1;
            continue;
        }
        // One `use` statement, possibly over several lines.
        let end = (i..lines.len())
            .find(|&j| lines[j].trim_end().ends_with(';'))
            .unwrap_or(i);
        let statement = lines[i..=end].join(" ");
        let path = statement
            .trim()
            .trim_start_matches("use ")
            .trim_end_matches(';')
            .trim();
        let (parent, items): (&str, Vec<String>) = match path.split_once("::{") {
            Some((parent, group)) => (
                parent,
                group
                    .trim_end_matches('}')
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            None => match path.rsplit_once("::") {
                Some((parent, leaf)) => (parent, vec![leaf.to_owned()]),
                None => ("", vec![path.to_owned()]),
            },
        };
        let leaf_name = |item: &str| item.split(" as ").next().unwrap_or(item).trim().to_owned();
        let kept: Vec<String> = items
            .iter()
            .filter(|item| {
                let hit = wanted
                    .iter()
                    .position(|(p, l)| p == parent && *l == leaf_name(item));
                if let Some(at) = hit {
                    wanted.remove(at);
                }
                hit.is_none()
            })
            .cloned()
            .collect();
        if kept.len() == items.len() {
            out.extend(lines[i..=end].iter().map(|l| l.to_string()));
        } else {
            if !noted {
                let list: Vec<String> = needs.iter().map(|n| format!("`{n}`")).collect();
                let list = match list.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                    None => String::new(),
                };
                out.extend(wrap_comment(&format!(
                    "Your step {step} code will need {list} too."
                )));
                noted = true;
            }
            match kept.as_slice() {
                // A group of imports gone whole: do not leave two blank lines.
                [] if i > 0
                    && lines[i - 1].is_empty()
                    && lines.get(end + 1).is_some_and(|l| l.is_empty()) =>
                {
                    i = end + 2;
                    continue;
                }
                [] => {}
                [one] => out.push(format!("use {parent}::{one};")),
                many => out.push(format!("use {parent}::{{{}}};", many.join(", "))),
            }
        }
        i = end + 1;
    }
    if !wanted.is_empty() {
        let list: Vec<String> = wanted.iter().map(|(p, l)| format!("{p}::{l}")).collect();
        bail!(
            "`needs` names imports the file does not have: {}",
            list.join(", ")
        );
    }
    Ok(out.join("\n"))
}

/// `// ...` lines of at most 100 columns (rustfmt leaves comments as they are).
fn wrap_comment(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::from("//");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 && line != "//" {
            lines.push(std::mem::replace(&mut line, String::from("//")));
        }
        line.push(' ');
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// Marks `Struct.field` as read only by the learner's code, so it is not dead code.
fn mark_field(text: &str, step: u32, field: &str) -> Result<String> {
    let (strukt, name) = field
        .split_once('.')
        .with_context(|| format!("`fields` entry {field:?} is not `Struct.field`"))?;
    let lines: Vec<&str> = text.split('\n').collect();
    let is_struct = |l: &str| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words
            .iter()
            .position(|w| *w == "struct")
            .and_then(|at| words.get(at + 1))
            .is_some_and(|w| w.trim_end_matches('{').split('<').next() == Some(strukt))
    };
    let start = lines
        .iter()
        .position(|l| is_struct(l))
        .with_context(|| format!("no `struct {strukt}` for `fields` entry {field}"))?;
    let at = (start + 1..lines.len())
        .take_while(|&j| lines[j] != "}")
        .find(|&j| {
            let t = lines[j].trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            t.starts_with(&format!("{name}:"))
        })
        .with_context(|| format!("no field {name} in struct {strukt}"))?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(
        at,
        format!(
            "{}#[allow(dead_code)] // read by your step {step} code",
            leading(lines[at])
        ),
    );
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &str = r#"
[lab]
title = "T"
book = "09-x/lab.md"

[[step]]
id = 1
title = "Add"
book = "09-x/add.md"
points = 1
tests = ["step1_"]

[[step.region]]
anchor = "add"
todo = "add {a} and b"
explain = """Plain addition.
Nothing more."""
uses = ["a", "b"]
needs = ["std::ops::{Add, Sub}"]
fields = ["Calc.carry"]

[[step]]
id = 2
title = "Later"
book = "09-x/later.md"
points = 1
tests = ["step2_"]

[[step.region]]
anchor = "later"
todo = "answer later"
explain = "A future."
wrap = "std::future::ready::<u32>({todo})"
"#;

    const SOLUTION: &str = "use std::fmt::Debug;
use std::ops::{Add, Mul, Sub};

struct Calc {
    carry: u32,
}

// ANCHOR: add
/// Adds.
pub fn add(mut a: u32, b: &mut u32) -> u32 {
    a += b.add(1).sub(1);
    a
}

fn helper() {}
// ANCHOR_END: add

fn later() -> impl Future<Output = u32> {
    // ANCHOR: later
    std::future::ready(1)
    // ANCHOR_END: later
}

// ANCHOR: book_only
fn shown() {}
// ANCHOR_END: book_only
";

    fn derive(solved: u32) -> String {
        let steps = steps::parse(STEPS).unwrap();
        let mut used = HashSet::new();
        let out = derive_file(SOLUTION, &steps, solved, &mut used).unwrap();
        assert_eq!(used.len(), 2);
        out
    }

    #[test]
    fn a_function_region_keeps_its_signature_and_loses_its_body() {
        let lab = derive(0);
        assert!(lab.contains(
            "// ANCHOR: add
/// Adds.
pub fn add(a: u32, b: &mut u32) -> u32 {
    // Step 1: add `a` and b.
    // Plain addition.
    // Nothing more.
    let _ = (a, b);
    todo!(\"step 1: add {a} and b (book: 09-x/add.md)\")
}
// ANCHOR_END: add"
        ));
        assert!(!lab.contains("helper"));
    }

    #[test]
    fn an_expression_region_is_wrapped_and_book_anchors_stay() {
        let lab = derive(0);
        assert!(lab.contains(
            "    // ANCHOR: later
    // Step 2: answer later.
    // A future.
    std::future::ready::<u32>(todo!(\"step 2: answer later (book: 09-x/later.md)\"))
    // ANCHOR_END: later"
        ));
        assert!(lab.contains("// ANCHOR: book_only\nfn shown() {}\n// ANCHOR_END: book_only"));
    }

    #[test]
    fn imports_and_fields_only_the_learner_uses_are_handled() {
        let lab = derive(0);
        assert!(lab.starts_with(
            "use std::fmt::Debug;
// Your step 1 code will need `std::ops::{Add, Sub}` too.
use std::ops::Mul;
"
        ));
        assert!(
            lab.contains("    #[allow(dead_code)] // read by your step 1 code\n    carry: u32,")
        );
    }

    #[test]
    fn solved_steps_keep_the_solution_and_files_without_regions_are_copied() {
        let partly = derive(1);
        assert!(partly.contains("    a += b.add(1).sub(1);"));
        assert!(partly.contains("todo!(\"step 2"));
        assert_eq!(derive(2), SOLUTION);
        let steps = steps::parse(STEPS).unwrap();
        let plain = "fn main() {}\n";
        assert_eq!(
            derive_file(plain, &steps, 0, &mut HashSet::new()).unwrap(),
            plain
        );
    }

    #[test]
    fn a_region_in_a_body_followed_by_code_becomes_a_statement() {
        let steps =
            steps::parse(&STEPS.replace("anchor = \"later\"", "anchor = \"inner\"")).unwrap();
        let solution = "fn f() -> u32 {
    let mut n = 1;
    // ANCHOR: inner
    n += 1;
    // ANCHOR_END: inner
    n
}
";
        let lab = derive_file(solution, &steps, 0, &mut HashSet::new()).unwrap();
        assert!(lab.contains(
            "    // ANCHOR: inner
    // Step 2: answer later.
    // A future.
    std::future::ready::<u32>(todo!(\"step 2: answer later (book: 09-x/later.md)\"));
    // ANCHOR_END: inner
    n
"
        ));
    }

    #[test]
    fn mut_is_stripped_from_bindings_only() {
        assert_eq!(
            strip_mut_parameters("fn f(mut a: A, b: &mut B, mut c: C) {"),
            "fn f(a: A, b: &mut B, c: C) {"
        );
        assert_eq!(strip_mut_parameters("    mut s: S,"), "    s: S,");
    }
}
