//! Learner and instructor commands: check, progress, watch, hint, reset, grade, mutants.
//! (Filled in by the tooling work; each says so until then.)

use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct GradeArgs {
    /// Submission folders (each a copy of the course).
    pub submissions: Vec<std::path::PathBuf>,
}

pub fn check(_lab: Option<String>) -> Result<()> {
    bail!("`check` is not available yet; run `cargo test -p lab-01-transports`")
}
pub fn progress() -> Result<()> {
    bail!("`progress` is not available yet")
}
pub fn watch(_lab: Option<String>) -> Result<()> {
    bail!("`watch` is not available yet")
}
pub fn hint(_lab: Option<String>) -> Result<()> {
    bail!("`hint` is not available yet")
}
pub fn reset(_lab: &str, _yes: bool) -> Result<()> {
    bail!("`reset` is not available yet")
}
pub fn grade(_args: GradeArgs) -> Result<()> {
    bail!("`grade` is not available yet")
}
pub fn mutants(_lab: &str) -> Result<()> {
    bail!("`mutants` is not available yet")
}
