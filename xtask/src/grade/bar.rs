//! The grader's progress display: a one-line bar on a terminal, plain lines otherwise
//! (a log file or CI would otherwise fill with carriage returns).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

pub struct Bar {
    state: Mutex<(usize, usize)>,
    label: String,
    terminal: bool,
}

impl Bar {
    pub fn new(label: &str, total: usize) -> Self {
        Bar {
            state: Mutex::new((0, total)),
            label: label.to_owned(),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// One more unit of work done; `what` says which.
    pub fn tick(&self, what: &str) {
        let mut state = self.state.lock().expect("bar lock");
        state.0 += 1;
        let (done, total) = *state;
        if self.terminal {
            let width = 24;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            print!(
                "\r\x1b[2K[{}{}] {done}/{total} {} {what}",
                "#".repeat(filled),
                ".".repeat(width - filled),
                self.label
            );
            let _ = std::io::stdout().flush();
        } else {
            println!("{} [{done}/{total}] {what}", self.label);
        }
    }

    /// Ends the bar's line.
    pub fn finish(&self) {
        if self.terminal {
            println!();
        }
    }
}
