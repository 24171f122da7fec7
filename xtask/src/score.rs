//! Scoring: test results mapped onto a lab's steps.
//!
//! A step passes when every test that proves it passed, and it has at least one: a step
//! whose tests are missing from the binary (renamed, deleted) is not passed for free.

use crate::steps::{Step, Steps};
use crate::testrun::TestResult;

#[derive(Debug, Clone)]
pub struct StepScore<'a> {
    pub step: &'a Step,
    pub results: Vec<&'a TestResult>,
}

impl StepScore<'_> {
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(|r| r.outcome.passed())
    }

    pub fn points(&self) -> u32 {
        if self.passed() { self.step.points } else { 0 }
    }

    /// The first test that did not pass, if any.
    pub fn first_failure(&self) -> Option<&TestResult> {
        self.results.iter().copied().find(|r| !r.outcome.passed())
    }
}

/// Each step, in order, with the results of the tests that prove it.
pub fn score<'a>(steps: &'a Steps, results: &'a [TestResult]) -> Vec<StepScore<'a>> {
    steps
        .steps
        .iter()
        .map(|step| StepScore {
            step,
            results: results.iter().filter(|r| step.proves(&r.name)).collect(),
        })
        .collect()
}

pub fn passed_count(scores: &[StepScore]) -> usize {
    scores.iter().filter(|s| s.passed()).count()
}

pub fn points(scores: &[StepScore]) -> u32 {
    scores.iter().map(|s| s.points()).sum()
}

/// The first step that is not passed.
pub fn first_failing<'a, 'b>(scores: &'b [StepScore<'a>]) -> Option<&'b StepScore<'a>> {
    scores.iter().find(|s| !s.passed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrun::Outcome;

    #[test]
    fn a_step_passes_only_when_all_its_tests_pass() {
        let steps = crate::steps::parse(
            r#"
[lab]
title = "T"
book = "t.md"
[[step]]
id = 1
title = "one"
book = "t.md"
points = 3
tests = ["step1_"]
hints = ["h"]
[[step]]
id = 2
title = "two"
book = "t.md"
points = 4
tests = ["step2_"]
hints = ["h"]
[[step]]
id = 3
title = "three"
book = "t.md"
points = 5
tests = ["step3_"]
hints = ["h"]
"#,
        )
        .unwrap();
        let result = |name: &str, outcome| TestResult {
            name: name.into(),
            outcome,
        };
        let results = vec![
            result("step1_a", Outcome::Passed),
            result("step1_b", Outcome::Passed),
            result("step2_a", Outcome::Passed),
            result("step2_b", Outcome::Failed("no".into())),
        ];
        let scores = score(&steps, &results);
        assert!(scores[0].passed());
        assert!(!scores[1].passed());
        assert_eq!(scores[1].first_failure().unwrap().name, "step2_b");
        assert!(
            !scores[2].passed(),
            "a step with no test results is not passed"
        );
        assert_eq!(passed_count(&scores), 1);
        assert_eq!(points(&scores), 3);
        assert_eq!(first_failing(&scores).unwrap().step.id, 2);
    }
}
