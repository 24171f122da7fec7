//! Building a lab's test binary and running its tests, with a result per test.
//!
//! We build with `cargo test --no-run` and run the test executable ourselves instead of
//! reading `cargo test`'s output: the build tells a compile error apart from a failing
//! test (the learner must see the compiler's message, not "0 steps passed"), and owning
//! the process lets the grader run one test per process under a wall-clock limit, so a
//! hanging or crashing learner server costs one test, never the whole run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wait_timeout::ChildExt;

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// A failed assertion or panic; the message is what the test printed about it.
    Failed(String),
    /// Still running when its time was up; killed.
    TimedOut(Duration),
    /// The test process died without reporting (abort, segfault, `process::exit`).
    Crashed(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed)
    }

    /// One line (or a few) saying why a test did not pass.
    pub fn explanation(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed(message) => message.clone(),
            Outcome::TimedOut(limit) => format!(
                "timed out: still running after {} s (a handler that never answers, or a wait with no time limit?)",
                limit.as_secs_f64()
            ),
            Outcome::Crashed(why) => format!("the test process crashed: {why}"),
        }
    }

    /// The short label used in tables and reports.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::TimedOut(_) => "timed out",
            Outcome::Crashed(_) => "crashed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
}

/// Where and how to build a lab's tests.
pub struct Target<'a> {
    /// The workspace to run cargo in (the course, or a submission's copy).
    pub workspace: &'a Path,
    /// `lab-01-transports` or `solution-01-transports`.
    pub package: &'a str,
    /// The lab's `tests/` folder: only test binaries built from files in it count.
    pub tests_dir: &'a Path,
    /// `CARGO_TARGET_DIR`, when it must differ from the caller's.
    pub target_dir: Option<&'a Path>,
    /// Echo cargo's "Compiling ..." lines while it builds (a first build takes minutes;
    /// silence would look like a hang). Diagnostics are returned, not echoed.
    pub show_progress: bool,
}

/// The result of building a lab's tests.
pub enum Build {
    /// The test executables built from the lab's `tests/` folder.
    Built(Vec<PathBuf>),
    /// Cargo's rendered error messages.
    CompileError(String),
}

/// Builds the test binaries without running them.
pub fn build(target: &Target) -> Result<Build> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(target.workspace)
        .args(["test", "-p", target.package, "--no-run"])
        // JSON on stdout for us, the compiler's usual messages on stderr for the learner.
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null());
    if let Some(dir) = target.target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    // Only the test targets built from the lab's `tests/`: a plain `--no-run` also compiles
    // the lib and the bin a second time as their own unit-test harnesses (and a solution's
    // other suites), which nobody runs here and which cost about as much as the lab itself.
    for name in test_targets_in(target)? {
        command.args(["--test", &name]);
    }
    let (status, stdout, stderr) = run_cargo(&mut command, target.show_progress)
        .with_context(|| format!("running cargo to build {}'s tests", target.package))?;
    if !status.success() {
        if stderr.contains("could not compile") || stderr.contains("error[") {
            return Ok(Build::CompileError(compiler_messages(&stderr)));
        }
        bail!(
            "cargo could not build {}'s tests:\n{stderr}",
            target.package
        );
    }
    let tests_dir = target
        .tests_dir
        .canonicalize()
        .with_context(|| format!("{} does not exist", target.tests_dir.display()))?;
    let executables = test_executables(&stdout, &tests_dir);
    if executables.is_empty() {
        bail!(
            "{} has no test binary built from {}: is there a test file there, and does Cargo.toml's [[test]] point at it?",
            target.package,
            tests_dir.display()
        );
    }
    Ok(Build::Built(executables))
}

/// The names of the package's test targets whose source is in `tests_dir`, from
/// `cargo metadata` (a solution's `[[test]]` may point at the lab's file under another name).
/// Empty when there are none: the build then compiles every target, and says so below.
fn test_targets_in(target: &Target) -> Result<Vec<String>> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(target.workspace)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed in {}: {}",
            target.workspace.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(test_targets_of(&metadata, target.package, target.tests_dir))
}

fn test_targets_of(metadata: &serde_json::Value, package: &str, tests_dir: &Path) -> Vec<String> {
    let tests_dir = tests_dir
        .canonicalize()
        .unwrap_or_else(|_| tests_dir.to_path_buf());
    let Some(packages) = metadata["packages"].as_array() else {
        return Vec::new();
    };
    packages
        .iter()
        .filter(|p| p["name"] == package)
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "test"))
        })
        .filter(|t| {
            t["src_path"].as_str().is_some_and(|src| {
                let src = Path::new(src);
                src.canonicalize()
                    .unwrap_or_else(|_| src.to_path_buf())
                    .starts_with(&tests_dir)
            })
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

/// Runs cargo, capturing stdout and stderr, echoing stderr's progress lines if asked.
fn run_cargo(command: &mut Command, show_progress: bool) -> Result<(ExitStatus, String, String)> {
    use std::io::BufRead;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let mut stderr = String::new();
    for line in std::io::BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line.unwrap_or_default();
        if show_progress && is_progress(&line) {
            eprintln!("{line}");
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait()?;
    Ok((status, out_reader.join().unwrap_or_default(), stderr))
}

fn is_progress(line: &str) -> bool {
    let trimmed = line.trim_start();
    [
        "Compiling ",
        "Checking ",
        "Blocking ",
        "Locking ",
        "Downloaded ",
        "Building ",
        "Finished ",
    ]
    .iter()
    .any(|p| trimmed.starts_with(p))
}

/// Test executables from cargo's JSON messages whose source file is under `tests_dir`.
fn test_executables(json_lines: &str, tests_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for line in json_lines.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(exe), Some(src)) = (
            message["executable"].as_str(),
            message["target"]["src_path"].as_str(),
        ) else {
            continue;
        };
        let is_test = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "test"));
        let src = Path::new(src);
        let src = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
        if is_test && src.starts_with(tests_dir) {
            found.push(PathBuf::from(exe));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Cargo's stderr without the "Compiling x" progress lines.
fn compiler_messages(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| !is_progress(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tests a binary holds, without running them (libtest's `--list`: `name: test`).
pub fn list(exe: &Path) -> Result<Vec<String>> {
    list_matching(exe, &[])
}

fn list_matching(exe: &Path, filters: &[String]) -> Result<Vec<String>> {
    let output = Command::new(exe)
        .args(["--list"])
        .args(filters)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("listing the tests of {}", exe.display()))?;
    if !output.status.success() {
        bail!(
            "{} --list failed: {}",
            exe.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(parse_list(&String::from_utf8_lossy(&output.stdout)))
}

pub fn parse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

/// Runs every test of a binary in one process (fast; shares the tests' statics, such as
/// one Redis container), with an overall limit. Tests that never reported (the process
/// crashed or the limit struck) are reported as such.
pub fn run_all(exe: &Path, cwd: &Path, limit: Duration) -> Result<Vec<TestResult>> {
    run_some(exe, cwd, &[], limit, None)
}

/// Like [`run_all`], for the tests whose names contain one of `filters` (libtest's
/// filters), without backtraces: what is judged is each failure's message, and a
/// backtrace would cut it at its first panic.
pub fn run_matching(
    exe: &Path,
    cwd: &Path,
    filters: &[String],
    limit: Duration,
) -> Result<Vec<TestResult>> {
    run_some(exe, cwd, filters, limit, Some("0"))
}

fn run_some(
    exe: &Path,
    cwd: &Path,
    filters: &[String],
    limit: Duration,
    backtrace: Option<&str>,
) -> Result<Vec<TestResult>> {
    let expected = list_matching(exe, filters)?;
    let mut command = Command::new(exe);
    as_cargo_test_would(&mut command, cwd);
    command.args(filters);
    if let Some(backtrace) = backtrace {
        command.env("RUST_BACKTRACE", backtrace);
    }
    let run = run_limited(&mut command, limit, false)?;
    let mut results = parse_results(&run.output);
    for name in expected {
        if results.iter().all(|r| r.name != name) {
            let outcome = match run.status {
                None => Outcome::TimedOut(limit),
                Some(status) => Outcome::Crashed(describe_exit(status)),
            };
            results.push(TestResult { name, outcome });
        }
    }
    Ok(results)
}

/// Runs one test alone in its own process with a wall-clock limit.
pub fn run_one(exe: &Path, cwd: &Path, name: &str, limit: Duration) -> TestResult {
    let mut command = Command::new(exe);
    as_cargo_test_would(&mut command, cwd);
    command
        // Reports want the assertion, not a page of frames.
        .env("RUST_BACKTRACE", "0")
        .args(["--exact", name, "--test-threads=1"]);
    let outcome = match run_limited(&mut command, limit, true) {
        Err(error) => Outcome::Crashed(format!("could not start: {error:#}")),
        Ok(Run { status: None, .. }) => Outcome::TimedOut(limit),
        Ok(Run {
            status: Some(status),
            output,
        }) => {
            let reported = parse_results(&output).into_iter().find(|r| r.name == name);
            match reported {
                Some(result) => result.outcome,
                None if status.success() => {
                    Outcome::Crashed(format!("the binary has no test named {name}"))
                }
                None => Outcome::Crashed(format!(
                    "{}; last output:\n{}",
                    describe_exit(status),
                    last_lines(&output, 15)
                )),
            }
        }
    };
    TestResult {
        name: name.to_owned(),
        outcome,
    }
}

/// `cargo test` runs a test binary from its package's folder with `CARGO_MANIFEST_DIR`
/// set; tests (and insta) may rely on both. Snapshots are compared, never rewritten.
fn as_cargo_test_would(command: &mut Command, package_dir: &Path) {
    command
        .current_dir(package_dir)
        .env("CARGO_MANIFEST_DIR", package_dir)
        .env("INSTA_UPDATE", "no");
}

struct Run {
    /// `None` when the limit struck and the process was killed.
    status: Option<ExitStatus>,
    /// stdout then stderr.
    output: String,
}

/// Runs a command to completion or until `limit`, capturing its output. With `isolate`,
/// it gets a process group of its own, so a timeout kills the servers it started too;
/// without, Ctrl-C in the learner's terminal still reaches it.
fn run_limited(command: &mut Command, limit: Duration, isolate: bool) -> Result<Run> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    if isolate {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().context("starting the test binary")?;
    // Read both pipes while waiting, or a chatty test fills a pipe and never ends.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let status = child.wait_timeout(limit).context("waiting for a test")?;
    let status = match status {
        Some(status) => Some(status),
        None => {
            kill(&mut child, isolate);
            let _ = child.wait();
            None
        }
    };
    let mut output = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    output.push_str(&String::from_utf8_lossy(
        &err_reader.join().unwrap_or_default(),
    ));
    Ok(Run { status, output })
}

fn kill(child: &mut std::process::Child, isolate: bool) {
    #[cfg(unix)]
    if isolate {
        // The whole group (the test and any server process it started), and only it:
        // the group was made for this child, so its id is the child's pid.
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
}

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => " (SIGABRT: an abort, or a panic while panicking)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return format!("killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code} without reporting a result"),
        None => "ended without an exit code".into(),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Per-test results from libtest's plain output, with each failure's message taken from
/// its `---- name stdout ----` section.
pub fn parse_results(output: &str) -> Vec<TestResult> {
    let mut results = Vec::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, verdict)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let name = name.trim().to_owned();
        let outcome = match verdict.trim() {
            "ok" => Outcome::Passed,
            "FAILED" => Outcome::Failed(failure_message(output, &name)),
            _ => continue,
        };
        results.push(TestResult { name, outcome });
    }
    results
}

fn failure_message(output: &str, name: &str) -> String {
    let header = format!("---- {name} stdout ----");
    let Some(start) = output.find(&header) else {
        return "failed (libtest printed no message)".into();
    };
    let mut lines = Vec::new();
    for line in output[start + header.len()..].lines().skip(1) {
        if line.starts_with("---- ")
            || line == "failures:"
            || line == "successes:"
            || line == "stack backtrace:"
        {
            break;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE=1`") {
            continue;
        }
        lines.push(line);
    }
    let message = lines.join("\n").trim().to_owned();
    if message.is_empty() {
        "failed (libtest printed no message)".into()
    } else {
        message
    }
}

/// The first `count` lines of a message, saying how many were left out.
pub fn first_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= count {
        return text.to_owned();
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..count].join("\n"),
        lines.len() - count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_test_targets_from_the_labs_tests_folder_are_built() {
        let tests = std::env::temp_dir().join("course-testrun-targets/labs/01-x/tests");
        let metadata = serde_json::json!({ "packages": [
            { "name": "solution-01-x", "targets": [
                { "name": "x", "kind": ["lib"], "src_path": "/c/solutions/01-x/src/lib.rs" },
                { "name": "graded", "kind": ["test"], "src_path": tests.join("graded.rs") },
                { "name": "interop", "kind": ["test"], "src_path": "/c/solutions/01-x/tests/interop.rs" },
            ]},
            { "name": "lab-01-x", "targets": [
                { "name": "graded", "kind": ["test"], "src_path": tests.join("graded.rs") },
            ]},
        ]});
        assert_eq!(
            test_targets_of(&metadata, "solution-01-x", &tests),
            vec!["graded".to_owned()]
        );
        assert!(test_targets_of(&metadata, "lab-02-y", &tests).is_empty());
    }

    const OUTPUT: &str = "\nrunning 3 tests\ntest step1_publish ... ok\ntest wire::step2_poll ... FAILED\ntest step3_sse ... FAILED\n\nfailures:\n\n---- wire::step2_poll stdout ----\n\nthread 'wire::step2_poll' panicked at labs/01/tests/t.rs:10:5:\nexpected 2 messages, got 0 (see book/src/01-transports/long-polling.md)\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n---- step3_sse stdout ----\nnot yet implemented: step 3\n\nfailures:\n    wire::step2_poll\n    step3_sse\n\ntest result: FAILED. 1 passed; 2 failed\n";

    #[test]
    fn results_and_messages_are_parsed() {
        let results = parse_results(OUTPUT);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].outcome, Outcome::Passed);
        assert_eq!(
            results[1].outcome,
            Outcome::Failed(
                "thread 'wire::step2_poll' panicked at labs/01/tests/t.rs:10:5:\nexpected 2 messages, got 0 (see book/src/01-transports/long-polling.md)".into()
            )
        );
        assert_eq!(
            results[2].outcome,
            Outcome::Failed("not yet implemented: step 3".into())
        );
    }

    #[test]
    fn listings_are_parsed() {
        assert_eq!(
            parse_list("step1_a: test\nwire::step2_b: test\nsome_bench: benchmark\n"),
            vec!["step1_a", "wire::step2_b"]
        );
    }

    #[test]
    fn only_test_binaries_from_the_lab_tests_folder_count() {
        let dir = tempfile::tempdir().unwrap();
        let tests = dir.path().join("labs/01/tests");
        std::fs::create_dir_all(&tests).unwrap();
        std::fs::write(tests.join("t.rs"), "").unwrap();
        let tests = tests.canonicalize().unwrap();
        let line = |kind: &str, src: &Path, exe: &str| {
            serde_json::json!({"reason": "compiler-artifact", "executable": exe,
                "target": {"kind": [kind], "src_path": src}})
            .to_string()
        };
        let json = [
            line("test", &tests.join("t.rs"), "/t/lab-t"),
            line("lib", &dir.path().join("src/lib.rs"), "/t/lib"),
            line("test", &dir.path().join("tests/interop.rs"), "/t/interop"),
        ]
        .join("\n");
        assert_eq!(
            test_executables(&json, &tests),
            vec![PathBuf::from("/t/lab-t")]
        );
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(first_lines("a\nb\nc", 2), "a\nb\n... (1 more lines)");
        assert_eq!(first_lines("a\nb", 2), "a\nb");
    }

    #[cfg(unix)]
    #[test]
    fn a_command_over_its_limit_is_killed() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let started = std::time::Instant::now();
        let run = run_limited(&mut command, Duration::from_millis(200), true).unwrap();
        assert!(run.status.is_none(), "sleep 30 should have been killed");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
