//! `cargo xtask hint [LAB]`: one more hint for the first failing step each time.
//!
//! The count lives in `target/xtask/hints.json` (per lab: which step, how many shown), so
//! it survives between calls and starts again at hint 1 when the learner moves on to
//! another step. `check` records the hint 1 it prints there too, so the next `hint`
//! gives hint 2 rather than repeating it. `target/` keeps it out of git and `reset`'s way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::check::{LabRun, run_lab};
use crate::{score, ui, workspace};

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Shown {
    pub step: u32,
    pub count: usize,
}

type State = BTreeMap<String, Shown>;

fn state_file() -> PathBuf {
    workspace::root().join("target/xtask/hints.json")
}

fn load() -> State {
    std::fs::read_to_string(state_file())
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save(state: &State) -> Result<()> {
    let file = state_file();
    std::fs::create_dir_all(file.parent().expect("has a parent"))?;
    std::fs::write(&file, serde_json::to_string_pretty(state)?)
        .with_context(|| format!("writing {}", file.display()))
}

/// Notes that hint `count` of `step` was shown, keeping a higher count already noted
/// for the same step (`check` shows hint 1 again after `hint` showed hint 3).
pub fn note_shown(state: &mut State, lab: &str, step: u32, count: usize) {
    let count = match state.get(lab) {
        Some(shown) if shown.step == step => shown.count.max(count),
        _ => count,
    };
    state.insert(lab.to_owned(), Shown { step, count });
}

/// [`note_shown`], saved in `target/xtask/hints.json`.
pub fn record_shown(lab: &str, step: u32, count: usize) -> Result<()> {
    let mut state = load();
    note_shown(&mut state, lab, step, count);
    save(&state)
}

/// Which hint (1-based) to show next for `step`, given what was shown before.
pub fn next_hint(previous: Option<&Shown>, step: u32, available: usize) -> usize {
    let shown_before = match previous {
        Some(shown) if shown.step == step => shown.count,
        _ => 0,
    };
    (shown_before + 1).min(available.max(1))
}

pub fn hint(lab: Option<String>) -> Result<()> {
    let labs = match lab {
        Some(query) => vec![workspace::find_lab(&query)?],
        None => workspace::labs()?,
    };
    for lab in &labs {
        println!(
            "{}",
            ui::dim(&format!("running {}'s tests...", lab.dir_name))
        );
        let run = run_lab(lab)?;
        let (steps, results) = match &run {
            LabRun::CompileError(messages) => {
                println!("{messages}");
                anyhow::bail!(
                    "lab {} does not compile yet: the first error above is the hint; fix it, then ask again",
                    lab.dir_name
                );
            }
            LabRun::Ran { steps, results } => (steps, results),
        };
        let scores = score::score(steps, results);
        let Some(failing) = score::first_failing(&scores) else {
            continue;
        };
        let step = failing.step;
        let mut state = load();
        let n = next_hint(state.get(&lab.dir_name), step.id, step.hints.len());
        note_shown(&mut state, &lab.dir_name, step.id, n);
        save(&state)?;
        println!("lab {}, step {} ({}):", lab.dir_name, step.id, step.title);
        match step.hints.get(n - 1) {
            Some(text) => println!(
                "{} {text}",
                ui::yellow(&format!("hint {n}/{}:", step.hints.len()))
            ),
            None => println!("this step has no hints"),
        }
        let (url, file) = step.page_links();
        if n >= step.hints.len() {
            println!(
                "{}",
                ui::dim(&format!(
                    "that was the last hint for this step; the book explains it: {url} or {file}"
                ))
            );
        } else {
            println!(
                "{}",
                ui::dim(&format!(
                    "ask again for the next hint: `cargo xtask hint {}`",
                    lab.arg()
                ))
            );
        }
        return Ok(());
    }
    println!("{}", ui::green("every step passes: no hint needed."));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_unfold_one_per_call_and_restart_on_a_new_step() {
        assert_eq!(next_hint(None, 2, 3), 1);
        let shown = Shown { step: 2, count: 1 };
        assert_eq!(next_hint(Some(&shown), 2, 3), 2);
        let shown = Shown { step: 2, count: 3 };
        assert_eq!(next_hint(Some(&shown), 2, 3), 3, "stays on the last hint");
        assert_eq!(next_hint(Some(&shown), 3, 3), 1, "a new step starts over");
    }

    #[test]
    fn after_check_showed_hint_1_the_next_hint_is_2() {
        let mut state = State::new();
        note_shown(&mut state, "01-transports", 5, 1); // what `check` records
        let n = next_hint(state.get("01-transports"), 5, 3);
        assert_eq!(n, 2, "`hint` must not repeat the hint `check` showed");
        note_shown(&mut state, "01-transports", 5, n);
        note_shown(&mut state, "01-transports", 5, 1); // `check` again
        assert_eq!(
            next_hint(state.get("01-transports"), 5, 3),
            3,
            "running `check` again does not take the learner back to hint 2"
        );
        note_shown(&mut state, "01-transports", 6, 1); // `check` on the next step
        assert_eq!(next_hint(state.get("01-transports"), 6, 3), 2);
    }
}
