//! Headless Chromium through chromedriver's WebDriver API, for the browser suites
//! (this chapter's `tests/browser.rs` and the book's live panels, `xtask/tests/panels.rs`,
//! which includes this file by path).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`),
//! or their paths in `CHROMIUM` and `CHROMEDRIVER`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use kit::within;
use tokio::io::AsyncBufReadExt;
use tokio::process::Child;

fn from_env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A WebDriver session in a headless Chromium; the driver is killed when this is dropped.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session.
    pub async fn start() -> Browser {
        let chromedriver = from_env("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = from_env("CHROMIUM", "/usr/bin/chromium");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for chromedriver")
            .port();
        let mut driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {chromedriver}: {e} (set CHROMEDRIVER)"));
        // chromedriver says when it listens: wait for that line rather than retrying.
        let stdout = driver.stdout.take().expect("chromedriver's stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        within(
            Duration::from_secs(20),
            async {
                loop {
                    match lines.next_line().await {
                        Ok(Some(line)) if line.contains("started successfully") => return,
                        Ok(Some(_)) => continue,
                        _ => panic!("{chromedriver} exited before listening (set CHROMEDRIVER)"),
                    }
                }
            },
            "chromedriver's 'started successfully' line",
        )
        .await;
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let profile =
            std::env::temp_dir().join(format!("course-chromium-{}-{}", std::process::id(), port));
        std::fs::create_dir_all(&profile).expect("a temporary profile directory");

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = within(
            Duration::from_secs(20),
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&webdriver),
            "a WebDriver session",
        )
        .await
        .unwrap_or_else(|error| {
            panic!(
                "no WebDriver session from {chromedriver}: {error}\n\
                 (is {chromium} a working Chromium? set CHROMIUM and CHROMEDRIVER)"
            )
        });
        Browser {
            client,
            _driver: driver,
            profile,
        }
    }

    /// Ends the session and removes the profile.
    pub async fn close(self) {
        self.client.close().await.expect("closing the browser");
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
