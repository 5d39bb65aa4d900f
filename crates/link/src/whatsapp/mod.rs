//! The link to the real WhatsApp network, on the whatsapp-rust library. This module is the only
//! place in wamcp that knows whatsapp-rust's types: [`convert`] turns its values into core types
//! (one tested function per kind), `events` its events into link events, and [`client`] drives it.

pub mod client;
pub mod convert;
mod events;

pub use client::{SESSION_FILE, WhatsAppLink};
