//! fakewa: a WhatsApp server and the account's phone in one process, for tests. The real
//! whatsapp-rust client inside wamcp (built with its `test-server` feature) connects to it over a
//! local WebSocket and speaks the real protocol: the Noise handshake, binary nodes,
//! Signal-encrypted messages, app state and history sync. A JSON control API plays the phone and
//! the account's contacts, and shows what the client sent.
//!
//! Layout (ARCHITECTURE.md has more):
//! - [`server`] accepts sockets and runs [`noise`]; [`wire`] encodes nodes; [`world`] is the
//!   account's state machine, kept on disk by [`state`];
//! - the server's answers: [`iq`], [`people`] (usync, prekeys), [`groups`], [`app_state`],
//!   [`media`], [`queue`] (the offline queue), [`failures`];
//! - the phone and the contacts: [`pairing`], [`pair_code`], [`qr`], [`messaging`],
//!   [`history`], [`phone_actions`] (archive, pin, mute, read, delete for me, renames),
//!   [`own_chat`] (the owner writing to themselves), all on
//!   [`signal`];
//! - [`control`], the JSON control API.

pub mod app_state;
pub mod control;
pub mod failures;
pub mod groups;
pub mod history;
pub mod iq;
pub mod media;
pub mod messaging;
pub mod noise;
pub mod own_chat;
pub mod pair_code;
pub mod pairing;
pub mod people;
pub mod phone_actions;
pub mod qr;
pub mod queue;
pub mod server;
pub mod signal;
pub mod state;
pub mod wire;
pub mod world;
