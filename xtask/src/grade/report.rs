//! What the grader found, and its three renderings: Markdown, JSON and JUnit XML.
//!
//! One model, serialized as is for JSON, so every format says the same thing.

use serde::Serialize;

use super::tamper::Difference;

#[derive(Debug, Clone, Serialize)]
pub struct SubmissionReport {
    pub name: String,
    pub source: String,
    /// Tests, helpers or step metadata differ from the course's.
    pub flagged: bool,
    pub differences: Vec<Difference>,
    pub points: u32,
    pub max_points: u32,
    pub steps_passed: usize,
    pub steps_total: usize,
    pub labs: Vec<LabReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabReport {
    pub lab: String,
    pub title: String,
    /// `graded`, `does not compile` or `missing`.
    pub status: &'static str,
    pub compile_errors: Option<String>,
    pub points: u32,
    pub max_points: u32,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: u32,
    pub title: String,
    pub passed: bool,
    pub points: u32,
    pub max_points: u32,
    pub tests: Vec<TestReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub name: String,
    /// `passed`, `failed`, `timed out` or `crashed`.
    pub outcome: &'static str,
    pub message: Option<String>,
    pub seconds: f64,
}

impl SubmissionReport {
    /// Fills the totals from the labs.
    pub fn total(mut self) -> Self {
        self.points = self.labs.iter().map(|l| l.points).sum();
        self.max_points = self.labs.iter().map(|l| l.max_points).sum();
        self.steps_passed = self
            .labs
            .iter()
            .flat_map(|l| &l.steps)
            .filter(|s| s.passed)
            .count();
        self.steps_total = self.labs.iter().map(|l| l.steps.len()).sum();
        self
    }
}

/// Markdown report for one submission.
pub fn markdown(report: &SubmissionReport) -> String {
    let mut out = format!("# Grade report: {}\n\n", report.name);
    out.push_str(&format!(
        "**Total: {}/{} points, {}/{} steps.** Source: `{}`\n\n",
        report.points, report.max_points, report.steps_passed, report.steps_total, report.source
    ));
    if report.flagged {
        out.push_str("> [!WARNING]\n> This submission's tests, test helpers or step metadata differ from the course's. ");
        out.push_str(
            "It was graded with the course's own files; ask the learner about these changes:\n",
        );
        for d in &report.differences {
            out.push_str(&format!(">\n> - `{}` ({})\n", d.path, d.change));
        }
        out.push('\n');
    }
    for lab in &report.labs {
        out.push_str(&format!(
            "## {}: {} ({}/{} points)\n\n",
            lab.lab, lab.title, lab.points, lab.max_points
        ));
        if lab.status != "graded" {
            out.push_str(&format!("Not graded: the lab {}.\n\n", lab.status));
        }
        if let Some(errors) = &lab.compile_errors {
            out.push_str(&format!(
                "```text\n{}\n```\n\n",
                crate::testrun::first_lines(errors, 40)
            ));
        }
        if lab.status == "missing" {
            continue;
        }
        out.push_str("| step | title | result | points |\n|---|---|---|---|\n");
        for step in &lab.steps {
            let result = if step.passed { "passed" } else { "**failed**" };
            out.push_str(&format!(
                "| {} | {} | {} | {}/{} |\n",
                step.id,
                step.title.replace('|', "\\|"),
                result,
                step.points,
                step.max_points
            ));
        }
        let failures: Vec<_> = lab
            .steps
            .iter()
            .flat_map(|s| s.tests.iter().map(move |t| (s, t)))
            .filter(|(_, t)| t.outcome != "passed")
            .collect();
        if !failures.is_empty() && lab.status == "graded" {
            out.push_str(
                "\nTests that did not pass (start with the first: later steps build on it):\n\n",
            );
            for (step, test) in failures {
                out.push_str(&format!(
                    "- step {}: `{}` {}\n",
                    step.id, test.name, test.outcome
                ));
                if let Some(message) = &test.message {
                    let shown = crate::testrun::first_lines(message, 10);
                    out.push_str(&format!(
                        "\n  ```text\n  {}\n  ```\n",
                        shown.replace('\n', "\n  ")
                    ));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Markdown summary of a class: one row per submission, one column per lab.
pub fn markdown_summary(reports: &[SubmissionReport]) -> String {
    let labs: Vec<&str> = reports
        .first()
        .map(|r| r.labs.iter().map(|l| l.lab.as_str()).collect())
        .unwrap_or_default();
    let mut out = String::from("# Grades\n\n| submission |");
    for lab in &labs {
        out.push_str(&format!(" {lab} |"));
    }
    out.push_str(" steps | points | tests modified |\n|---|");
    out.push_str(&"---|".repeat(labs.len() + 3));
    out.push('\n');
    for report in reports {
        out.push_str(&format!("| {} |", report.name));
        for lab in &report.labs {
            let cell = match lab.status {
                "graded" => format!("{}/{}", lab.points, lab.max_points),
                other => format!("0/{} ({other})", lab.max_points),
            };
            out.push_str(&format!(" {cell} |"));
        }
        let flag = if report.flagged {
            format!("**yes** ({} files)", report.differences.len())
        } else {
            "no".into()
        };
        out.push_str(&format!(
            " {}/{} | {}/{} | {flag} |\n",
            report.steps_passed, report.steps_total, report.points, report.max_points
        ));
    }
    out
}

/// JUnit XML: a test suite per submission and lab, a test case per graded test.
pub fn junit(reports: &[SubmissionReport]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"grades\">\n");
    for report in reports {
        for lab in &report.labs {
            let tests: Vec<(&StepReport, &TestReport)> = lab
                .steps
                .iter()
                .flat_map(|s| s.tests.iter().map(move |t| (s, t)))
                .collect();
            let failures = tests.iter().filter(|(_, t)| t.outcome != "passed").count();
            let errors = usize::from(lab.status != "graded");
            out.push_str(&format!(
                "  <testsuite name=\"{}.{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">\n",
                xml(&report.name),
                xml(&lab.lab),
                tests.len() + errors
            ));
            if report.flagged {
                out.push_str(&format!(
                    "    <properties><property name=\"tests-modified\" value=\"{}\"/></properties>\n",
                    xml(&report.differences.iter().map(|d| d.path.as_str()).collect::<Vec<_>>().join(" "))
                ));
            }
            if lab.status != "graded" {
                out.push_str(&format!(
                    "    <testcase name=\"build\" classname=\"{}.{}\"><error message=\"the lab {}\">{}</error></testcase>\n",
                    xml(&report.name),
                    xml(&lab.lab),
                    lab.status,
                    xml(lab.compile_errors.as_deref().unwrap_or(""))
                ));
            }
            for (step, test) in tests {
                out.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{}.{}.step{}\" time=\"{:.3}\"",
                    xml(&test.name),
                    xml(&report.name),
                    xml(&lab.lab),
                    step.id,
                    test.seconds
                ));
                if test.outcome == "passed" {
                    out.push_str("/>\n");
                } else {
                    out.push_str(&format!(
                        "><failure message=\"{}\">{}</failure></testcase>\n",
                        test.outcome,
                        xml(test.message.as_deref().unwrap_or(""))
                    ));
                }
            }
            out.push_str("  </testsuite>\n");
        }
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SubmissionReport {
        SubmissionReport {
            name: "ada".into(),
            source: "subs/ada".into(),
            flagged: true,
            differences: vec![Difference {
                path: "labs/01/tests/t.rs".into(),
                change: "modified",
            }],
            points: 0,
            max_points: 0,
            steps_passed: 0,
            steps_total: 0,
            labs: vec![LabReport {
                lab: "01-demo".into(),
                title: "Demo".into(),
                status: "graded",
                compile_errors: None,
                points: 10,
                max_points: 30,
                steps: vec![
                    StepReport {
                        id: 1,
                        title: "Add".into(),
                        passed: true,
                        points: 10,
                        max_points: 10,
                        tests: vec![TestReport {
                            name: "step1_adds".into(),
                            outcome: "passed",
                            message: None,
                            seconds: 0.1,
                        }],
                    },
                    StepReport {
                        id: 2,
                        title: "Greet".into(),
                        passed: false,
                        points: 0,
                        max_points: 20,
                        tests: vec![TestReport {
                            name: "step2_greets".into(),
                            outcome: "failed",
                            message: Some("expected <Hello> & got \"\"".into()),
                            seconds: 0.2,
                        }],
                    },
                ],
            }],
        }
        .total()
    }

    #[test]
    fn totals_add_up() {
        let report = sample();
        assert_eq!((report.points, report.max_points), (10, 30));
        assert_eq!((report.steps_passed, report.steps_total), (1, 2));
    }

    #[test]
    fn markdown_shows_the_score_the_flag_and_the_failures() {
        let md = markdown(&sample());
        assert!(md.contains("**Total: 10/30 points, 1/2 steps.**"));
        assert!(md.contains("`labs/01/tests/t.rs` (modified)"));
        assert!(md.contains("| 2 | Greet | **failed** | 0/20 |"));
        assert!(md.contains("step 2: `step2_greets` failed"));
        let summary = markdown_summary(&[sample()]);
        assert!(
            summary.contains("| ada | 10/30 | 1/2 | 10/30 | **yes** (1 files) |"),
            "{summary}"
        );
    }

    #[test]
    fn junit_is_escaped_and_counts_failures() {
        let xml = junit(&[sample()]);
        assert!(
            xml.contains(
                "<testsuite name=\"ada.01-demo\" tests=\"2\" failures=\"1\" errors=\"0\">"
            )
        );
        assert!(xml.contains("expected &lt;Hello&gt; &amp; got &quot;&quot;"));
        assert!(xml.contains("classname=\"ada.01-demo.step1\""));
    }
}
