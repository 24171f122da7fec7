//! `cargo xtask grade`: score learner submissions with the course's pristine tests.

use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct GradeArgs {
    /// Submission folders (each a copy of the course).
    pub submissions: Vec<std::path::PathBuf>,
}

pub fn grade(_args: GradeArgs) -> Result<()> {
    bail!("`grade` is not available yet")
}
