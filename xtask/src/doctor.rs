//! `cargo xtask doctor`: what is installed and running, and how to fix what is missing.

use std::process::Command;

use anyhow::Result;

use crate::ui;

/// One check: what, what we found, and the fix when it is missing.
struct Finding {
    what: &'static str,
    ok: bool,
    found: String,
    fix: String,
    required: bool,
}

pub fn run() -> Result<()> {
    let findings = vec![
        rust(),
        disk_space(),
        docker(),
        redis_image(),
        redis_url(),
        redis_server(),
        redis_provider(),
        tool(
            "Chromium",
            &chromium(),
            &["--version"],
            "apt install chromium (Debian/Ubuntu), or set CHROMIUM=/path/to/chromium; only the maintainers' browser suites need it",
        ),
        tool(
            "chromedriver",
            &chromedriver(),
            &["--version"],
            "apt install chromium-driver, or set CHROMEDRIVER=/path/to/chromedriver; only the maintainers' browser suites need it",
        ),
        tool(
            "Node.js",
            "node",
            &["--version"],
            "install Node 20 (nodejs.org or your package manager); only the interop suites need it",
        ),
        tool(
            "Python",
            "python3",
            &["--version"],
            "install Python 3.11+; only the interop suites need it",
        ),
        tool(
            "promtool",
            "promtool",
            &["--version"],
            "apt install prometheus (it ships promtool); only chapter 4's metrics suite needs it",
        ),
        tool(
            "HAProxy",
            "haproxy",
            &["-v"],
            "apt install haproxy; only chapter 5's balancer suite needs it",
        ),
    ];
    let mut missing_required = false;
    for f in &findings {
        let mark = if f.ok {
            ui::green("ok  ")
        } else if f.required {
            missing_required = true;
            ui::red("FIX ")
        } else {
            ui::yellow("opt ")
        };
        println!("{mark} {:<22} {}", f.what, f.found);
        if !f.ok {
            println!("     {} {}", ui::dim("->"), f.fix);
        }
    }
    let redis_ok = findings.iter().any(|f| f.what == PROVIDER && f.ok);
    println!();
    if missing_required {
        anyhow::bail!("not ready: fix the lines marked FIX, then run `cargo xtask doctor` again");
    }
    if redis_ok {
        println!("{}", ui::green("Ready: every lab's tests can run here."));
    } else {
        println!(
            "{}",
            ui::red(
                "The kit's Redis tests and labs 3 to 5 need a Redis: start Docker, install redis-server, or set REDIS_URL."
            )
        );
    }
    Ok(())
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| {
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        text.lines().next().unwrap_or("").to_owned()
    })
}

fn rust() -> Finding {
    let found = output_of("rustc", &["--version"]);
    Finding {
        what: "Rust",
        ok: found.is_some(),
        found: found.unwrap_or_else(|| "rustc not found".into()),
        fix: "install Rust with rustup (https://rustup.rs), stable 1.85 or newer".into(),
        required: true,
    }
}

/// Free space where `target/` lives: a build of the whole course leaves about 2 GB there,
/// a maintainer's full `cargo xtask verify --cumulative` about 5 GB.
fn disk_space() -> Finding {
    const NEED_GIB: f64 = 2.0;
    let target = crate::workspace::target_dir();
    let probe = target
        .ancestors()
        .find(|dir| dir.exists())
        .map(|dir| dir.display().to_string())
        .unwrap_or_else(|| ".".into());
    let free_gib = Command::new("df")
        .args(["-Pk", &probe])
        .output()
        .ok()
        .and_then(|out| free_kib(&String::from_utf8_lossy(&out.stdout)))
        .map(|kib| kib as f64 / (1024.0 * 1024.0));
    Finding {
        what: "Disk space",
        ok: free_gib.is_none_or(|gib| gib >= NEED_GIB),
        found: match free_gib {
            Some(gib) => format!("{gib:.1} GiB free under {probe}"),
            None => "unknown (no `df` here)".into(),
        },
        fix: format!(
            "builds need about {NEED_GIB} GiB: remove old target directories (`cargo clean`) or set CARGO_TARGET_DIR elsewhere"
        ),
        required: true,
    }
}

/// The "Available" column of `df -Pk`'s one data row.
fn free_kib(df_output: &str) -> Option<u64> {
    df_output
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

fn docker() -> Finding {
    let found = output_of("docker", &["info", "--format", "{{.ServerVersion}}"]);
    Finding {
        what: "Docker engine",
        ok: found.is_some(),
        found: match &found {
            Some(version) => format!("running (server {version})"),
            None if output_of("docker", &["--version"]).is_some() => {
                "client installed, engine not reachable".into()
            }
            None => "not installed".into(),
        },
        fix: "start Docker (`sudo systemctl start docker`, or open Docker Desktop); without it the kit uses redis-server from PATH, or REDIS_URL".into(),
        required: false,
    }
}

fn redis_image() -> Finding {
    let image = std::env::var("COURSE_REDIS_IMAGE").unwrap_or_else(|_| "redis:7-alpine".into());
    let present = output_of(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", &image],
    )
    .is_some();
    Finding {
        what: "Redis image",
        ok: present,
        found: if present {
            format!("{image} is available locally")
        } else {
            format!("{image} is not available locally (testcontainers will try to pull it)")
        },
        fix: format!(
            "`docker pull {image}`, or set COURSE_REDIS_IMAGE to an image you have (see .ci/build-redis-image)"
        ),
        required: false,
    }
}

fn redis_url() -> Finding {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            let reachable = url
                .trim_start_matches("redis://")
                .split('/')
                .next()
                .and_then(|hostport| {
                    let hostport = hostport.rsplit('@').next()?;
                    use std::net::ToSocketAddrs;
                    hostport.to_socket_addrs().ok()?.next()
                })
                .is_some_and(|addr| {
                    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_ok()
                });
            Finding {
                what: "REDIS_URL",
                ok: reachable,
                found: format!("{url} ({})", if reachable { "reachable" } else { "not reachable" }),
                fix: "start that Redis server, or unset REDIS_URL to use Docker".into(),
                required: false,
            }
        }
        _ => Finding {
            what: "REDIS_URL",
            ok: false,
            found: "not set (the kit starts a Redis itself)".into(),
            fix: "only needed to use a Redis you run yourself: `export REDIS_URL=redis://127.0.0.1:6379`".into(),
            required: false,
        },
    }
}

/// The label of the provider line, which decides "Ready".
const PROVIDER: &str = "Redis for the tests";

/// The first `redis-server` on PATH: the kit's third provider starts it itself.
fn redis_server_path() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

fn redis_server() -> Finding {
    let found = redis_server_path();
    Finding {
        what: "redis-server",
        ok: found.is_some(),
        found: match &found {
            Some(path) => format!("{} (the kit starts it when there is no Docker)", path.display()),
            None => "not on PATH".into(),
        },
        fix: "only needed without Docker: `sudo apt install redis-server` or `brew install redis`; the kit starts it on a free port itself".into(),
        required: false,
    }
}

/// Which of the kit's providers the tests will use, in the kit's own order
/// (labs/kit/src/redis.rs): REDIS_URL, a testcontainers container, redis-server on PATH.
fn redis_provider() -> Finding {
    let url = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let docker = output_of("docker", &["info", "--format", "{{.ServerVersion}}"]).is_some();
    let image = std::env::var("COURSE_REDIS_IMAGE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "redis:7-alpine".into());
    let found = match (url, docker, redis_server_path()) {
        (Some(url), ..) => Some(format!("REDIS_URL ({url})")),
        (None, true, _) => Some(format!("a testcontainers container (image {image})")),
        (None, false, Some(path)) => Some(format!(
            "redis-server on PATH ({}), started by the kit",
            path.display()
        )),
        (None, false, None) => None,
    };
    Finding {
        what: PROVIDER,
        ok: found.is_some(),
        found: found.unwrap_or_else(|| "none: no REDIS_URL, no Docker, no redis-server".into()),
        fix: "any one of: start Docker; install redis-server (`sudo apt install redis-server`, `brew install redis`); or run a Redis and set REDIS_URL".into(),
        required: false,
    }
}

pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

pub fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn tool(what: &'static str, program: &str, args: &[&str], fix: &str) -> Finding {
    let found = output_of(program, args);
    Finding {
        what,
        ok: found.is_some(),
        found: found.unwrap_or_else(|| format!("{program} not found")),
        fix: fix.into(),
        required: false,
    }
}

/// Whether a tool answers `--version` (`-v` for HAProxy): used by `verify` to decide which
/// suites can run.
pub fn has(program: &str) -> bool {
    // HAProxy knows `-v` only.
    let flag = if program == "haproxy" {
        "-v"
    } else {
        "--version"
    };
    output_of(program, &[flag]).is_some()
}

#[cfg(test)]
mod tests {
    use super::free_kib;

    #[test]
    fn free_space_is_the_available_column_of_df() {
        let df = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                  /dev/vda        263174212 23068672  73400320      24% /\n";
        assert_eq!(free_kib(df), Some(73_400_320));
        assert_eq!(free_kib("Filesystem 1024-blocks Used Available\n"), None);
    }
}
