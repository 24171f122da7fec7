//! `cargo xtask progress`: every lab, its steps passed and points, with totals.
//!
//! It runs every lab's tests (no cache: a cached "done" would hide a lab broken since),
//! so it takes as long as `check` on each lab.

use anyhow::Result;

use super::check::{LabRun, run_lab};
use crate::{ui, workspace};

pub fn progress() -> Result<()> {
    let labs = workspace::labs()?;
    let mut rows = Vec::new();
    let (mut steps_done, mut steps_all, mut points_done, mut points_all) = (0, 0, 0, 0);
    for lab in &labs {
        ui::step(&format!("running {}'s tests", lab.dir_name));
        let row = match run_lab(lab) {
            Err(error) => vec![
                lab.dir_name.clone(),
                "-".into(),
                "-".into(),
                ui::red(&format!("cannot run: {error:#}").replace('\n', " ")),
            ],
            Ok(run @ LabRun::CompileError(_)) => {
                let _ = run;
                vec![
                    lab.dir_name.clone(),
                    "-".into(),
                    "-".into(),
                    ui::red("does not compile (`cargo xtask check` shows why)"),
                ]
            }
            Ok(run) => {
                let (passed, all, points, total) = run.counts().expect("it ran");
                steps_done += passed;
                steps_all += all;
                points_done += points;
                points_all += total;
                let status = if passed == all {
                    ui::green("done")
                } else if passed == 0 {
                    "not started".into()
                } else {
                    ui::yellow("in progress")
                };
                vec![
                    lab.dir_name.clone(),
                    format!("{passed}/{all}"),
                    format!("{points}/{total}"),
                    status,
                ]
            }
        };
        rows.push(row);
    }
    rows.push(vec![
        ui::bold("total"),
        format!("{steps_done}/{steps_all}"),
        format!("{points_done}/{points_all}"),
        String::new(),
    ]);
    println!(
        "\n{}",
        ui::table(&["lab", "steps", "points", "status"], &rows)
    );
    Ok(())
}
