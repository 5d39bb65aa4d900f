//! The daemon's API as types. Each endpoint is a request type paired with its answer type by
//! [`Endpoint`], so a caller names the request and gets the answer, typed, whether it reaches
//! the daemon over HTTP or in the same process (see [`Daemon`]).
//!
//! The JSON of each type is what the REST API takes and answers, field for field: lharries'
//! bodies and answers, plus wamcp's own endpoints.

mod answers;
mod daemon;
mod endpoint;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
mod requests;

pub use answers::{
    ConnectionReport, ConnectionState, DaemonStatus, Done, Downloaded, Forgotten, GroupInfo, GroupMember, HistorySync,
    LinkKind, NumberCheck, NumbersChecked, Queued, RetentionReport, Transcribed, TranscriptState,
};
pub use daemon::{Daemon, DaemonError, read_http_answer};
pub use endpoint::{Answer, Endpoint, Method, Request};
pub use requests::{
    Delete, Download, Edit, Forget, GetGroup, GetStatus, IsOnWhatsApp, MarkRead, React, RequestHistory, SendMessage,
    Transcribe, Typing,
};
