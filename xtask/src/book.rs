//! Building the book in-process with the `mdbook-driver` library.
//!
//! No `mdbook` binary is needed: we load `book/`, add the Mermaid preprocessor from the
//! `mdbook-mermaid` library, and render. Mermaid's JavaScript is not committed; it ships
//! in that crate's source, which `cargo metadata` finds on any machine, and we copy it
//! into `book/generated/` (git-ignored) before each build.
//!
//! mdBook reports a missing `{{#include}}` as a log line, not an error, so we count the
//! error events it logs and check includes and links ourselves: a stale snippet must fail.
//! `folds` checks that no page shows a learner's answer unfolded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use mdbook_driver::MDBook;

use crate::{ui, workspace};

/// The book's root (where `book.toml` is).
pub fn book_dir() -> PathBuf {
    workspace::root().join("book")
}

/// `cargo xtask build [--out DIR]`.
pub fn build_command(out: Option<PathBuf>) -> Result<()> {
    let out = out.unwrap_or_else(|| book_dir().join("build"));
    let started = std::time::Instant::now();
    build(&out, None)?;
    check_links(&out)?;
    println!(
        "{} the book is in {} ({:.1} s)",
        ui::green("built:"),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds the book into `out`. With `live_reload`, pages connect to that WebSocket
/// endpoint and reload when told to (used by `serve`).
pub fn build(out: &Path, live_reload: Option<&str>) -> Result<()> {
    install_log_counter();
    materialize_assets()?;
    check_includes()?;
    crate::folds::check(&workspace::root())?;
    let before = ERRORS.load(Ordering::SeqCst);
    let mut book = MDBook::load(book_dir()).context("loading book/ (book.toml, src/SUMMARY.md)")?;
    book.config.build.build_dir = out.to_path_buf();
    if let Some(endpoint) = live_reload {
        book.config
            .set("output.html.live-reload-endpoint", endpoint)
            .context("setting the live-reload endpoint")?;
    }
    book.with_preprocessor(mdbook_mermaid::Mermaid);
    book.with_preprocessor(crate::stepsdoc::StepsTables {
        course: workspace::root(),
    });
    book.build().context("mdBook failed to render the book")?;
    let errors = ERRORS.load(Ordering::SeqCst) - before;
    if errors > 0 {
        let messages = MESSAGES.lock().expect("log lock").join("\n  ");
        bail!("mdBook logged {errors} error(s) while building:\n  {messages}");
    }
    Ok(())
}

/// Copies Mermaid's JavaScript from the `mdbook-mermaid` crate into `book/generated/`.
fn materialize_assets() -> Result<()> {
    let generated = book_dir().join("generated");
    let wanted = ["mermaid.min.js", "mermaid-init.js"];
    if wanted.iter().all(|f| generated.join(f).exists()) {
        return Ok(());
    }
    let crate_dir = workspace::package_dir("mdbook-mermaid")?;
    let assets = crate_dir.join("src/bin/assets");
    std::fs::create_dir_all(&generated)?;
    for file in wanted {
        std::fs::copy(assets.join(file), generated.join(file))
            .with_context(|| format!("copying {file} from {}", assets.display()))?;
    }
    Ok(())
}

/// Every `{{#include path:anchor}}` in the book names a file that exists and, when it
/// names an anchor, the file has `ANCHOR: name` and `ANCHOR_END: name`.
pub fn check_includes() -> Result<()> {
    let src = book_dir().join("src");
    let mut problems = Vec::new();
    for page in markdown_files(&src)? {
        let text = std::fs::read_to_string(&page)?;
        for lab in crate::stepsdoc::directives(&text) {
            if let Err(error) = crate::stepsdoc::load_lab(&workspace::root(), &lab) {
                let shown = page.strip_prefix(workspace::root()).unwrap_or(&page);
                problems.push(format!("{}: {error:#}", shown.display()));
            }
        }
        for directive in find_includes(&text) {
            let (path, selector) = match directive.split_once(':') {
                Some((path, selector)) => (path, Some(selector)),
                None => (directive.as_str(), None),
            };
            let target = page
                .parent()
                .expect("a page has a folder")
                .join(path.trim());
            let shown = page
                .strip_prefix(workspace::root())
                .unwrap_or(&page)
                .display()
                .to_string();
            let Ok(content) = std::fs::read_to_string(&target) else {
                problems.push(format!("{shown}: includes {path}, which does not exist"));
                continue;
            };
            if let Some(anchor) = selector.filter(|s| is_anchor_name(s)) {
                let has_start = content.contains(&format!("ANCHOR: {anchor}"));
                let has_end = content.contains(&format!("ANCHOR_END: {anchor}"));
                if !has_start || !has_end {
                    problems.push(format!(
                        "{shown}: includes {path}:{anchor}, but that file has no anchor `{anchor}`"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "the book includes what is not there:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Every relative link in the rendered HTML points to a file that exists.
pub fn check_links(out: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for page in files_with_extension(out, "html")? {
        let html = std::fs::read_to_string(&page)?;
        for target in find_hrefs(&html) {
            if target.contains("://")
                || target.starts_with('#')
                || target.starts_with("mailto:")
                || target.starts_with("javascript:")
                || target.starts_with("data:")
                || target.starts_with('/')
            {
                continue;
            }
            let path = target.split(['#', '?']).next().unwrap_or("");
            if path.is_empty() {
                continue;
            }
            let resolved = page.parent().expect("a page has a folder").join(path);
            if !resolved.exists() {
                let shown = page
                    .strip_prefix(out)
                    .unwrap_or(&page)
                    .display()
                    .to_string();
                problems.push(format!("{shown}: link to {target} leads nowhere"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    if !problems.is_empty() {
        bail!("broken links in the book:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

fn is_anchor_name(selector: &str) -> bool {
    !selector.is_empty()
        && !selector.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !selector.contains(':')
}

/// The argument of each `{{#include ...}}` and `{{#rustdoc_include ...}}`, skipping
/// escaped `\{{#include}}`.
fn find_includes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["{{#include ", "{{#rustdoc_include "] {
        let mut rest = text;
        while let Some(start) = rest.find(prefix) {
            let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
            let after = &rest[start + prefix.len()..];
            if let Some(end) = after.find("}}") {
                if !escaped {
                    found.push(after[..end].trim().to_owned());
                }
                rest = &after[end..];
            } else {
                break;
            }
        }
    }
    found
}

fn find_hrefs(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            let after = &rest[start + attr.len()..];
            let Some(end) = after.find('"') else { break };
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    found
}

pub fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>> {
    files_with_extension(dir, "md")
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

static ERRORS: AtomicUsize = AtomicUsize::new(0);
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// mdBook logs through `tracing`; we print warnings and count errors.
fn install_log_counter() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        let filter = tracing_subscriber::EnvFilter::try_from_env("XTASK_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_filter(filter),
            )
            .with(ErrorCounter)
            .try_init();
    });
}

struct ErrorCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if *event.metadata().level() == tracing::Level::ERROR {
            ERRORS.fetch_add(1, Ordering::SeqCst);
            let mut message = MessageText(String::new());
            event.record(&mut message);
            MESSAGES.lock().expect("log lock").push(message.0);
        }
    }
}

struct MessageText(String);

impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{}={value:?}", field.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::{find_hrefs, find_includes, is_anchor_name};

    #[test]
    fn includes_are_found_and_escaped_ones_skipped() {
        let text = "a {{#include ../x.rs:main}} b \\{{#include nope.rs}} {{#rustdoc_include y.rs}}";
        assert_eq!(find_includes(text), vec!["../x.rs:main", "y.rs"]);
    }

    #[test]
    fn anchors_are_names_not_line_ranges() {
        assert!(is_anchor_name("handler"));
        assert!(!is_anchor_name("10"));
        assert!(!is_anchor_name("10:20"));
    }

    #[test]
    fn hrefs_and_srcs_are_found() {
        assert_eq!(
            find_hrefs(r#"<a href="a.html#x">a</a><img src="b.png">"#),
            vec!["a.html#x", "b.png"]
        );
    }
}
