//! The command line every lab binary shares: `--addr 127.0.0.1:PORT` and a ready line.
//!
//! `cargo run -p lab-01-transports -- --addr 127.0.0.1:0` prints
//! `listening on http://127.0.0.1:PORT` once the socket is bound. Tests and the
//! book's live panels rely on that exact line.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Reads `--addr HOST:PORT` (or `--addr=HOST:PORT`) from the process arguments,
/// defaulting to `127.0.0.1:{default_port}`. Exits with a usage message on bad input.
pub fn addr_from_args(default_port: u16) -> SocketAddr {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_addr(&args, default_port) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("{message}\nusage: --addr 127.0.0.1:{default_port}");
            std::process::exit(2);
        }
    }
}

/// The value following `--addr`, if any; other arguments are left to the binary.
pub fn parse_addr(args: &[String], default_port: u16) -> Result<SocketAddr, String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = if arg == "--addr" {
            iter.next().ok_or("--addr needs a value")?.clone()
        } else if let Some(value) = arg.strip_prefix("--addr=") {
            value.to_owned()
        } else {
            continue;
        };
        return value
            .parse()
            .map_err(|e| format!("--addr {value:?} is not HOST:PORT: {e}"));
    }
    Ok(SocketAddr::from(([127, 0, 0, 1], default_port)))
}

/// Binds `addr` and prints the ready line with the real address (port 0 resolved).
pub async fn bind_and_announce(addr: SocketAddr) -> std::io::Result<TcpListener> {
    bind_and_announce_as(addr, "http").await
}

/// The same for a server that speaks `scheme` (`https` behind TLS).
pub async fn bind_and_announce_as(addr: SocketAddr, scheme: &str) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {scheme}://{}", listener.local_addr()?);
    Ok(listener)
}

/// Resolves on Ctrl-C (and SIGTERM on Unix), to start a graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn addr_defaults_to_the_demo_port_on_loopback() {
        assert_eq!(parse_addr(&[], 3001).unwrap().to_string(), "127.0.0.1:3001");
    }

    #[test]
    fn addr_is_read_in_both_spellings() {
        let a = parse_addr(&args(&["--addr", "127.0.0.1:0"]), 3001).unwrap();
        let b = parse_addr(&args(&["--addr=127.0.0.1:0"]), 3001).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_bad_addr_is_an_error_that_names_it() {
        let err = parse_addr(&args(&["--addr", "localhost"]), 3001).unwrap_err();
        assert!(err.contains("localhost"), "{err}");
    }
}
