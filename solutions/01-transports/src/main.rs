//! `cargo run -p solution-01-transports -- --addr 127.0.0.1:3001`: the feed and its demo page.

use transports::{AppState, Config};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = kit::serve::addr_from_args(3001);
    let listener = kit::serve::bind_and_announce(addr).await?;
    let state = AppState::new(Config::default());
    transports::serve(listener, state, kit::serve::shutdown_signal()).await?;
    println!("stopped");
    Ok(())
}
