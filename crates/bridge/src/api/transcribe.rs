//! `POST /api/transcribe`: what a voice note, audio or video message says. The request is queued
//! in the store (so it survives a restart), and answered with the transcript when the worker
//! makes it within [`WAIT`], else as queued: the transcript then follows as a `transcript` event
//! and in every reading of the message.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use wamcp_api::http::ApiError;
use wamcp_api::{Transcribe, Transcribed, TranscriptState};
use wamcp_store::Transcription;

use super::send::parse_recipient;
use super::{AppState, store_error};
use crate::events::BridgeEvent;
use crate::ingest::{Command, TranscriptionChange};

/// How long a caller is kept waiting for the transcript before being answered "queued".
pub const WAIT: Duration = Duration::from_secs(60);

impl AppState {
    pub(super) async fn transcribe(&self, request: Transcribe) -> Result<Transcribed, ApiError> {
        if !self.transcription_on {
            return Err(ApiError::unavailable(
                "transcription is off: give the endpoint with --transcription-url (WAMCP_TRANSCRIPTION_URL, \
                 transcription.url in wamcp.toml) and the model with --transcription-model",
            ));
        }
        let chat = parse_recipient(&request.chat_jid)?;
        let id = request.message_id;
        let stored = self.reader().await?.media(&chat, &id).map_err(store_error)?;
        if !stored.kind.has_sound() {
            return Err(ApiError::bad_request(format!(
                "message {id} is a {} message: only voice notes, audio and video can be transcribed",
                stored.kind.as_str()
            )));
        }
        // Listening before queueing: the transcript cannot be announced unheard.
        let mut events = self.events.subscribe();
        let answer = |state, transcript, error| Transcribed {
            success: state != TranscriptState::Failed,
            message: match state {
                TranscriptState::Done => "Transcribed".to_string(),
                TranscriptState::Queued => "Queued: the transcript follows as a transcript event".to_string(),
                TranscriptState::Failed => "Transcription failed".to_string(),
            },
            chat_jid: chat.to_string(),
            id: id.clone(),
            state,
            transcript,
            error,
        };
        if let Transcription::Done { transcript } =
            self.reader().await?.transcription(&chat, &id).map_err(store_error)?
        {
            return Ok(answer(TranscriptState::Done, Some(transcript), None));
        }
        let change = TranscriptionChange::Queue { chat: chat.clone(), id: id.clone() };
        self.ingest.apply(|done| Command::Transcription { change, done }).await.map_err(ApiError::internal)?;
        let heard = tokio::time::timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Ok(BridgeEvent::Transcript { chat_jid, id: of, transcript, error })
                        if chat_jid == chat.as_str() && of == id =>
                    {
                        return Some((transcript, error));
                    }
                    Ok(_) => {}
                    // The store has what the bus could not hold.
                    Err(RecvError::Lagged(_)) => return None,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        let heard = tokio::select! {
            heard = heard => heard.ok().flatten(),
            _ = self.stop.cancelled() => None,
        };
        if let Some((transcript, error)) = heard {
            let state = if transcript.is_some() { TranscriptState::Done } else { TranscriptState::Failed };
            return Ok(answer(state, transcript, error));
        }
        Ok(match self.reader().await?.transcription(&chat, &id).map_err(store_error)? {
            Transcription::Done { transcript } => answer(TranscriptState::Done, Some(transcript), None),
            Transcription::Failed { error } => answer(TranscriptState::Failed, None, Some(error)),
            Transcription::Queued { last_error, .. } => answer(TranscriptState::Queued, None, last_error),
            // Gone from the queue without a transcript: the message went.
            Transcription::None => return Err(ApiError::not_found(format!("message {id} in {chat} is gone"))),
        })
    }
}
