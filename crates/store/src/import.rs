//! Importing history kept by other tools. Each source has its own module.

pub mod lharries;
