//! `cargo xtask watch [LAB]`: re-run `check` on every save.
//!
//! Editors save in bursts (a temp file, a rename, a format-on-save), so we wait until
//! the lab's files have been quiet for a moment before running, and ignore `target/`.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher};

use super::check::check;
use crate::{ui, workspace};

/// How long the files must stay quiet before a run.
const DEBOUNCE: Duration = Duration::from_millis(400);

pub fn watch(lab: Option<String>) -> Result<()> {
    let root = workspace::root();
    let watched = match &lab {
        Some(query) => vec![workspace::find_lab(query)?.dir],
        None => vec![root.join("labs")],
    };
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("starting the file watcher")?;
    for dir in &watched {
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .with_context(|| format!("watching {}", dir.display()))?;
    }
    loop {
        run_once(lab.clone());
        println!("{}", ui::dim("watching for changes (Ctrl-C to stop)..."));
        wait_for_quiet_change(&rx)?;
        // Clear the screen so the newest result is the only one on it.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            print!("\x1b[2J\x1b[H");
        }
    }
}

fn run_once(lab: Option<String>) {
    if let Err(error) = check(lab) {
        ui::error(&format!("{error:#}"));
    }
}

/// Blocks until a relevant change, then until no change came for `DEBOUNCE`.
pub fn wait_for_quiet_change(rx: &mpsc::Receiver<notify::Result<notify::Event>>) -> Result<()> {
    loop {
        let event = rx.recv().context("the file watcher stopped")?;
        if is_relevant(&event) {
            break;
        }
    }
    loop {
        match rx.recv_timeout(DEBOUNCE) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the file watcher stopped")
            }
        }
    }
}

fn is_relevant(event: &notify::Result<notify::Event>) -> bool {
    let Ok(event) = event else { return false };
    if event.kind.is_access() {
        return false;
    }
    event.paths.iter().any(|p| is_source(p))
}

/// Sources and test data, not build output or editor droppings.
fn is_source(path: &Path) -> bool {
    let ignored = path
        .components()
        .any(|c| c.as_os_str() == "target" || c.as_os_str() == ".git");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let droppings = name.ends_with('~') || name.ends_with(".swp") || name.starts_with(".#");
    !ignored && !droppings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_editor_files_are_ignored() {
        assert!(is_source(Path::new("labs/01-transports/src/lib.rs")));
        assert!(!is_source(Path::new("labs/01-transports/target/debug/x")));
        assert!(!is_source(Path::new("labs/01-transports/src/.lib.rs.swp")));
        assert!(!is_source(Path::new("labs/01-transports/src/lib.rs~")));
    }

    #[test]
    fn a_burst_of_saves_gives_one_run() {
        let (tx, rx) = mpsc::channel();
        let save = || {
            Ok(
                notify::Event::new(notify::EventKind::Modify(notify::event::ModifyKind::Any))
                    .add_path("labs/01/src/lib.rs".into()),
            )
        };
        for _ in 0..3 {
            tx.send(save()).unwrap();
        }
        wait_for_quiet_change(&rx).unwrap();
        assert!(rx.try_recv().is_err(), "the whole burst was consumed");
    }

    #[test]
    fn a_real_save_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(tx).unwrap();
        watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();
        std::fs::write(dir.path().join("lib.rs"), "fn main() {}").unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || done_tx.send(wait_for_quiet_change(&rx).is_ok()));
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok(true));
    }
}
