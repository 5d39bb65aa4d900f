//! The `fakewa` binary (not ready yet).

fn main() {}
