//! The chat-contract server (work in progress).

fn main() {}
