//! The wrong answers' row per lab in the grading appendix, between the
//! `<!-- wrong-answers -->` markers, beside the mutation scores.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Verdict;
use crate::steps::Steps;

const START: &str = "<!-- wrong-answers -->";
const END: &str = "<!-- /wrong-answers -->";
const HEADER: &str = "| lab | entries | caught at their own step | per step (caught / entries) | measured |\n|---|---|---|---|---|";

/// `| 01-demo | 2 | 1 | 1: 1/1, 3: 0/1 | 2026-12-01, 1 min, 2 CPU(s) |`
pub fn row(lab: &str, steps: &Steps, verdicts: &[Verdict], took: Duration) -> String {
    let caught =
        |of: &mut dyn Iterator<Item = &Verdict>| of.filter(|v| v.caught_by.is_ok()).count();
    let per_step: Vec<String> = steps
        .steps
        .iter()
        .filter_map(|step| {
            let total = verdicts.iter().filter(|v| v.entry.step == step.id).count();
            let got = caught(&mut verdicts.iter().filter(|v| v.entry.step == step.id));
            (total > 0).then(|| format!("{}: {got}/{total}", step.id))
        })
        .collect();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "| {lab} | {} | {} | {} | {}, {} min, {cpus} CPU(s) |",
        verdicts.len(),
        caught(&mut verdicts.iter()),
        per_step.join(", "),
        crate::bench::today(),
        took.as_secs().div_ceil(60)
    )
}

/// Puts `row` for `lab` into the marker block of `page`, keeping the other labs' rows.
pub fn write_row(page: &Path, lab: &str, row: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
    let updated = with_row(&text, lab, row)
        .with_context(|| format!("{} has no `{START}` marker", page.display()))?;
    std::fs::write(page, updated)?;
    Ok(())
}

fn with_row(text: &str, lab: &str, row: &str) -> Option<String> {
    let start = text.find(START)?;
    let after_start = start + START.len();
    let end = text[after_start..].find(END).map(|i| after_start + i);
    let block = end.map_or("", |e| &text[after_start..e]);
    let mut rows: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| lab ") && !l.starts_with("|---"))
        .filter(|l| !l.starts_with(&format!("| {lab} |")))
        .collect();
    rows.push(row);
    rows.sort();
    let rest = end.map_or(&text[after_start..], |e| &text[e + END.len()..]);
    Some(format!(
        "{}{START}\n{HEADER}\n{}\n{END}{rest}",
        &text[..start],
        rows.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lab_has_one_row_between_the_markers() {
        let page = "# Grading\n\n<!-- wrong-answers -->\n\nAfter.\n";
        let once = with_row(page, "02-b", "| 02-b | 3 | 3 | 1: 3/3 | today |").unwrap();
        let twice = with_row(&once, "01-a", "| 01-a | 2 | 1 | 1: 1/2 | today |").unwrap();
        let again = with_row(&twice, "01-a", "| 01-a | 2 | 2 | 1: 2/2 | today |").unwrap();
        assert!(again.contains("| 01-a | 2 | 2 |") && !again.contains("| 01-a | 2 | 1 |"));
        assert!(again.find("| 01-a").unwrap() < again.find("| 02-b").unwrap());
        assert!(
            again.ends_with("<!-- /wrong-answers -->\n\nAfter.\n"),
            "{again}"
        );
        assert_eq!(again.matches(HEADER).count(), 1);
        assert!(with_row("no markers", "01-a", "| x |").is_none());
    }
}
