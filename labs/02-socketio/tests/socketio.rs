//! Graded tests of chapter 2 (work in progress).
