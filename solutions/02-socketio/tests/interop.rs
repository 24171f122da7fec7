//! Interop suites (Node and Python Socket.IO clients) against this server; written by the interop author.
