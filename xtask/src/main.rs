//! `cargo xtask`: the course's command line.
//!
//! One module per command family. Everything runs in-process where it can (mdBook is a
//! library here), and shells out to `cargo` for builds and tests so the learner sees the
//! same compiler output they would see by hand.

mod bench;
mod book;
mod derive;
mod doctor;
mod folds;
mod grade;
mod hintcode;
mod labsteps;
mod learner;
mod mutants;
mod score;
mod serve;
mod snapheader;
mod steps;
mod stepsdoc;
mod suites;
mod testrun;
mod token;
mod ui;
mod verify;
mod workspace;
mod wrong;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Real-time Web in Rust: the course's command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the book, serve it on 127.0.0.1, rebuild and live-reload on change.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Open the book in your browser.
        #[arg(long)]
        open: bool,
    },
    /// Build the static site, ready to publish.
    Build {
        /// Where to write the site (default: book/build).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run one lab's tests and show the steps passed and the first failing step.
    Check {
        /// The lab: `01` (its name, `01-transports`, works too). Default: the first
        /// unfinished lab.
        lab: Option<String>,
    },
    /// Table of labs and steps passed.
    Progress,
    /// Re-run `check` on every save.
    Watch {
        /// The lab: `01` (or `01-transports`). Default: every lab.
        lab: Option<String>,
    },
    /// The next hint for the first failing step (after `check`'s hint 1, hint 2).
    Hint {
        /// The lab: `01` (or `01-transports`). Default: the first unfinished lab.
        lab: Option<String>,
    },
    /// Restore a lab to its shipped state.
    Reset {
        /// The lab: `01` (or `01-transports`).
        lab: String,
        /// The revision to restore from (default: upstream/main or origin/main, else HEAD).
        #[arg(long)]
        from: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Grade learner submissions with the course's pristine tests.
    Grade(grade::GradeArgs),
    /// Authors: write a lab's src/ from its solution (regions in steps.toml become `todo!`).
    Derive(derive::DeriveArgs),
    /// Maintainers and CI: fmt, clippy, tests, labs fail as shipped, the book builds.
    Verify {
        /// Also check that steps are cumulative: with steps 1..N solved, exactly 1..N pass
        /// (one build per step of each lab), and that every wrong answer of the corpus is
        /// caught at its own step (one build per wrong answer).
        #[arg(long)]
        cumulative: bool,
        /// Only this lab's checks (number or name): no fmt, clippy, workspace tests or suites.
        #[arg(long)]
        lab: Option<String>,
    },
    /// A chat token (JWT, HS256) for chapter 4's server: `--sub NAME --role user|admin`.
    Token(token::TokenArgs),
    /// Measurements behind the book's tables.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Mutation testing of a lab's solution against the lab's tests.
    Mutants {
        lab: String,
        /// Passed to cargo-mutants (after `--`), e.g. `-- --file src/feed.rs`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// What is installed and running, and how to fix what is missing.
    Doctor,
    /// Maintainers: every wrong answer of the corpus (xtask/tests/wrong-answers/) is caught by
    /// its own step's tests; writes the grading appendix's row.
    WrongAnswers {
        /// Lab number or name (default: every lab).
        lab: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { port, open } => serve::run(port, open),
        Command::Build { out } => book::build_command(out),
        Command::Check { lab } => learner::check(lab),
        Command::Progress => learner::progress(),
        Command::Watch { lab } => learner::watch(lab),
        Command::Hint { lab } => learner::hint(lab),
        Command::Reset { lab, from, yes } => learner::reset(&lab, from.as_deref(), yes),
        Command::Grade(args) => grade::grade(args),
        Command::Derive(args) => derive::run(args),
        Command::Verify { cumulative, lab } => verify::run(cumulative, lab.as_deref()),
        Command::Token(args) => token::run(args),
        Command::Bench { what } => bench::run(what),
        Command::Mutants { lab, extra } => mutants::mutants(&lab, &extra),
        Command::Doctor => doctor::run(),
        Command::WrongAnswers { lab } => wrong::command(lab),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            ui::error(&format!("{error:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}
