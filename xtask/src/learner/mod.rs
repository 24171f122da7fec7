//! Learner commands: check, progress, watch, hint, reset.
//!
//! Each reads the lab's `steps.toml` (the `steps` module) and the results of its tests
//! (the `testrun` module), so what a learner sees is what the grader scores.

mod check;
mod hint;
mod progress;
mod reset;
mod watch;

pub use check::check;
pub use hint::hint;
pub use progress::progress;
pub use reset::reset;
pub use watch::watch;
