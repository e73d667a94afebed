//! Nothing of its own: building this crate builds the crates sandboxed Rust programs may use.
