//! The link to the real WhatsApp network, on the whatsapp-rust library. This module is the only
//! place in wamcp that knows whatsapp-rust's types; [`convert`] turns them into core types, one
//! tested function per kind of value.

pub mod convert;
