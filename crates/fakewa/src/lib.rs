//! fakewa: a WhatsApp server and the account's phone in one process, for tests. The real
//! whatsapp-rust client inside wamcp (built with its `test-server` feature) connects to it over a
//! local WebSocket and speaks the real protocol: the Noise handshake, binary nodes,
//! Signal-encrypted messages, app state and history sync. A JSON control API plays the phone and
//! the account's contacts, and shows what the client sent.
//!
//! Layout:
//! - [`noise`]: the server's side of the handshake and the encrypted frames;
//! - [`signal`]: the people fakewa plays, as Signal peers, and the client's uploaded keys.

pub mod app_state;
pub mod control;
pub mod failures;
pub mod groups;
pub mod history;
pub mod iq;
pub mod media;
pub mod messaging;
pub mod noise;
pub mod pair_code;
pub mod pairing;
pub mod people;
pub mod qr;
pub mod queue;
pub mod server;
pub mod signal;
pub mod state;
pub mod wire;
pub mod world;
