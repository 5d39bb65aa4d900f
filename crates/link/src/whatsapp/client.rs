//! [`WhatsAppLink`]: the [`Link`] trait on a whatsapp-rust client. Its protocol state (keys,
//! sessions) lives in its own SQLite file in the data directory; wamcp's store keeps the history.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc};
use wamcp_core::{Content, Jid, LinkEvent, Media, MessageId, Outgoing, Sent, Timestamp};
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::download::DownloadParams;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, ClientError, EditOptions, SendError, SendOptions, UploadOptions};

use super::events::translate;
use super::options::{LinkOptions, Presence};
use super::outgoing;
use crate::{GroupInfo, HistoryAnchor, Link, LinkError, LinkResult, MediaRequest};

/// The session database's file name in the data directory.
pub const SESSION_FILE: &str = "whatsapp-session.db";

/// A WhatsApp account linked as a companion device.
pub struct WhatsAppLink {
    session: PathBuf,
    options: LinkOptions,
    running: Mutex<Option<(BotHandle, Arc<Client>)>>,
    /// Where the running client's events go. Emptied on disconnect: the library's own tasks can
    /// outlive the client by minutes, and a sender they keep would keep the daemon's store
    /// writer waiting for more.
    sink: super::durable::Sink,
    /// Sends waiting for the server's acknowledgement.
    acks: super::acks::ServerAcks,
    /// Set when WhatsApp logged the device out: its keys are dead, and are set aside on disconnect.
    logged_out: Arc<AtomicBool>,
    /// Where the last unlinked session's files went.
    set_aside: std::sync::Mutex<Option<PathBuf>>,
}

impl WhatsAppLink {
    pub fn new(session: PathBuf, options: LinkOptions) -> WhatsAppLink {
        WhatsAppLink {
            session,
            options,
            running: Mutex::new(None),
            sink: Arc::default(),
            acks: Default::default(),
            logged_out: Arc::default(),
            set_aside: std::sync::Mutex::new(None),
        }
    }

    /// The `replaced-<time>/` folder the last unlinked session was moved to, if one was.
    pub fn unlinked_session_moved_to(&self) -> Option<PathBuf> {
        self.set_aside.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends (through `send`) and waits for the server to acknowledge message `id`; answers the
    /// server's time for it, when it gave one.
    async fn acknowledged(
        &self,
        id: &MessageId,
        send: impl std::future::Future<Output = Result<(), SendError>>,
    ) -> LinkResult<Option<Timestamp>> {
        let answered = self.acks.expect(id.as_str());
        if let Err(error) = send.await {
            self.acks.forget(id.as_str());
            return Err(send_error(error));
        }
        match tokio::time::timeout(super::acks::ACK_WAIT, answered).await {
            Ok(Ok(Ok(at))) => Ok(at),
            Ok(Ok(Err(code))) => Err(LinkError::Temporary(format!("WhatsApp did not take the message (error {code})"))),
            Ok(Err(_)) | Err(_) => {
                self.acks.forget(id.as_str());
                Err(LinkError::Temporary("WhatsApp did not acknowledge the message in time".into()))
            }
        }
    }

    /// After a logout, with the client stopped: moves the dead session out of the way.
    fn set_aside_if_logged_out(&self) {
        if !self.logged_out.swap(false, Ordering::SeqCst) {
            return;
        }
        match super::session::set_aside(&self.session) {
            Ok(Some(folder)) => {
                tracing::warn!("the unlinked session's files are now in {}", folder.display());
                *self.set_aside.lock().unwrap_or_else(|p| p.into_inner()) = Some(folder);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(
                "cannot move the unlinked session {} aside ({e}); remove it by hand before `wamcp login`",
                self.session.display()
            ),
        }
    }

    async fn client(&self) -> LinkResult<Arc<Client>> {
        match &*self.running.lock().await {
            Some((_, client)) if client.is_connected() => Ok(client.clone()),
            _ => Err(LinkError::NotConnected),
        }
    }
}

fn jid(jid: &Jid) -> LinkResult<whatsapp_rust::Jid> {
    jid.as_str().parse().map_err(|e| LinkError::Refused(format!("{jid} is not a WhatsApp address: {e:?}")))
}

fn send_error(error: SendError) -> LinkError {
    match error {
        SendError::NotLoggedIn | SendError::Client(ClientError::NotConnected | ClientError::NotLoggedIn) => {
            LinkError::NotConnected
        }
        SendError::InvalidRequest(why) => LinkError::Refused(why),
        other => LinkError::Temporary(other.to_string()),
    }
}

fn temporary(error: impl std::fmt::Display) -> LinkError {
    LinkError::Temporary(error.to_string())
}

#[async_trait]
impl Link for WhatsAppLink {
    async fn connect(&self, events: mpsc::Sender<LinkEvent>) -> LinkResult<()> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let store = super::session_store::open(&self.session).await?;
        let logged_out = self.logged_out.clone();
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(events);
        let sink = self.sink.clone();
        let presence = self.options.presence;
        let pair_phone = self.options.pair_phone.clone();
        let session_path = self.session.clone();
        let acks = self.acks.clone();
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_inbound_durability_hook(super::durable::StoreFirst(self.sink.clone()))
            .on_event(move |event, client| {
                let events = sink.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if matches!(&*event, whatsapp_rust::types::events::Event::LoggedOut(_)) {
                    logged_out.store(true, Ordering::SeqCst);
                }
                if let whatsapp_rust::types::events::Event::ServerAck(ack) = &*event {
                    acks.heard(ack);
                }
                let session = session_path.clone();
                let refresh_code = match &*event {
                    whatsapp_rust::types::events::Event::PairingCodeRefresh(_) => pair_phone.clone(),
                    _ => None,
                };
                async move {
                    // The code in use expired (or the phone never answered): ask for a new one,
                    // which arrives as the next `PairingCode`.
                    if let Some(phone) = refresh_code
                        && let Err(error) =
                            client.pair_with_code(PairCodeOptions { phone_number: phone, ..Default::default() }).await
                    {
                        tracing::warn!("cannot get a new pairing code: {error}");
                    }
                    if presence == Presence::Unavailable && super::presence::went_online(&event) {
                        super::presence::go_offline(&client).await;
                    }
                    // No sink: disconnected, nobody listens any more.
                    let Some(events) = events else { return };
                    for translated in translate(&event, &client) {
                        // The daemon gone means shutting down: nothing left to tell.
                        let _ = events.send(translated).await;
                    }
                    // After `Connected` is told: the sync's changes arrive as events of their own.
                    if matches!(&*event, whatsapp_rust::types::events::Event::Connected(_)) {
                        super::initial_sync::run_if_requested(&session, &client).await;
                    }
                }
            });
        builder = builder.with_device_props(super::options::device_props(self.options.history));
        if let Some(phone) = &self.options.pair_phone {
            builder = builder.with_pair_code(PairCodeOptions { phone_number: phone.clone(), ..Default::default() });
        }
        #[cfg(feature = "test-server")]
        let built = match super::test_server::url() {
            Some(url) => {
                builder
                    .with_transport_factory(super::test_server::transport(&url))
                    .with_http_client(super::test_server::LoopbackHttp::new())
                    .with_version(super::test_server::VERSION)
                    .build()
                    .await
            }
            None => builder.build().await,
        };
        #[cfg(not(feature = "test-server"))]
        let built = builder.build().await;
        let bot = built.map_err(|e| LinkError::Temporary(format!("cannot start the client: {e}")))?;
        let handle = bot.spawn();
        let client = handle.client();
        *running = Some((handle, client));
        Ok(())
    }

    async fn disconnect(&self) {
        if let Some((handle, _)) = self.running.lock().await.take() {
            handle.shutdown().await;
        }
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.set_aside_if_logged_out();
    }

    async fn send(&self, message: &Outgoing) -> LinkResult<Sent> {
        let client = self.client().await?;
        let chat = jid(&message.chat)?;
        let now = Timestamp::now();
        let body = match &message.content {
            Content::Text(text) => outgoing::text(text, outgoing::context(message, client.pn().as_ref())),
            Content::Media(attachment) => {
                let upload = client
                    .upload(attachment.data.clone(), outgoing::media_type(attachment.kind), UploadOptions::default())
                    .await
                    .map_err(temporary)?;
                outgoing::attachment(upload, attachment, outgoing::context(message, client.pn().as_ref()))
            }
            // Reactions, edits and revokes go out under the outbox's id, as every send does: a
            // retried send is then the same message on the wire, never a second one.
            Content::Reaction { target, emoji } => whatsapp_rust::wacore::proto_helpers::build_reaction_message(
                outgoing::key(&message.chat, target),
                emoji,
                now.millis(),
            ),
            Content::Edit { target, text } => {
                // The library's edit finds the account's own address in the group (LID or
                // phone) for the key; only the stanza id is ours.
                let edited = wa::Message { conversation: Some(text.clone()), ..Default::default() };
                let options = EditOptions::default().with_stanza_id(message.id.to_string());
                let edit = client.edit_message_with_options(chat, target.id.to_string(), edited, options);
                let at = self.acknowledged(&message.id, async { edit.await.map(|_| ()) }).await?;
                return Ok(Sent { id: message.id.clone(), at: at.unwrap_or(now) });
            }
            Content::Revoke { target } if target.from_me => outgoing::revoke_own(&message.chat, target),
            Content::Revoke { target } => outgoing::revoke_as_admin(&message.chat, target),
        };
        let options = SendOptions::default().with_message_id(message.id.to_string());
        let send = client.send_message_with_options(chat, body, options);
        let at = self.acknowledged(&message.id, async { send.await.map(|_| ()) }).await?;
        Ok(Sent { id: message.id.clone(), at: at.unwrap_or(now) })
    }

    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> LinkResult<()> {
        let client = self.client().await?;
        // The sender goes in the receipt only in a group, as whatsmeow sends it.
        let sender = sender.filter(|_| chat.kind() == wamcp_core::JidKind::Group).map(jid).transpose()?;
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        client.mark_as_read(&jid(chat)?, sender.as_ref(), &ids).await.map_err(temporary)
    }

    async fn set_typing(&self, chat: &Jid, typing: bool) -> LinkResult<()> {
        let client = self.client().await?;
        let chat = jid(chat)?;
        let chatstate = client.chatstate();
        if typing { chatstate.send_composing(&chat).await } else { chatstate.send_paused(&chat).await }
            .map_err(temporary)
    }

    async fn download(&self, request: &MediaRequest) -> LinkResult<Vec<u8>> {
        let client = self.client().await?;
        let media = &request.media;
        let (Some(direct_path), Some(media_key)) = (&media.direct_path, &media.media_key) else {
            return Err(LinkError::Refused("the message has no download path or key".into()));
        };
        let params = DownloadParams::encrypted(
            direct_path.clone(),
            media_key,
            media.sha256.as_deref().unwrap_or_default(),
            media.enc_sha256.as_deref().unwrap_or_default(),
            media.size.unwrap_or(0),
            outgoing::media_type(request.kind),
        );
        client.download_from_params(&params).await.map_err(|error| {
            use whatsapp_rust::ErrorChainExt;
            let chain: &(dyn std::error::Error + Send + Sync + 'static) = error.as_ref();
            match chain.http_status() {
                Some(403 | 404 | 410) => LinkError::MediaExpired,
                _ => LinkError::Temporary(error.to_string()),
            }
        })
    }

    async fn request_reupload(&self, request: &MediaRequest) -> LinkResult<Media> {
        let client = self.client().await?;
        let chat = jid(&request.chat)?;
        // A participant only in a group, as whatsmeow's media retry receipt has it.
        let participant = request
            .sender
            .as_ref()
            .filter(|_| request.chat.kind() == wamcp_core::JidKind::Group)
            .map(jid)
            .transpose()?;
        let media_key = request.media.media_key.clone().ok_or_else(|| LinkError::Refused("no media key".into()))?;
        let answer = client
            .media_reupload()
            .request(&whatsapp_rust::MediaReuploadRequest {
                msg_id: request.id.as_str(),
                chat_jid: &chat,
                media_key: &media_key,
                is_from_me: request.from_me,
                participant: participant.as_ref(),
            })
            .await
            .map_err(temporary)?;
        match answer {
            whatsapp_rust::MediaRetryResult::Success { direct_path } => {
                Ok(Media { direct_path: Some(direct_path), ..request.media.clone() })
            }
            other => {
                Err(LinkError::Refused(format!("the sender's phone could not upload the media again ({other:?})")))
            }
        }
    }

    async fn group_info(&self, group: &Jid) -> LinkResult<GroupInfo> {
        let client = self.client().await?;
        let metadata = client.groups().get_metadata(&jid(group)?).await.map_err(temporary)?;
        let participants = metadata.participants.iter();
        Ok(GroupInfo {
            jid: group.clone(),
            subject: metadata.subject.clone(),
            description: metadata.description.clone(),
            participants: participants.clone().filter_map(member).collect(),
            admins: participants.filter(|p| p.is_admin()).filter_map(member).collect(),
        })
    }

    async fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> LinkResult<()> {
        let client = self.client().await?;
        client
            .fetch_message_history(
                &jid(&anchor.chat)?,
                anchor.oldest_id.as_str(),
                anchor.oldest_from_me,
                anchor.oldest_at.millis(),
                count.min(i32::MAX as u32) as i32,
            )
            .await
            .map(|_| ())
            .map_err(temporary)
    }

    async fn is_on_whatsapp(&self, phones: &[String]) -> LinkResult<Vec<(String, Option<Jid>)>> {
        let client = self.client().await?;
        let jids: Vec<whatsapp_rust::Jid> = phones.iter().map(|p| whatsapp_rust::Jid::pn(p.as_str())).collect();
        let found = client.contacts().is_on_whatsapp(&jids).await.map_err(temporary)?;
        // The phone JID of each answer: `pn_jid` when the server answered with a LID.
        let answers: Vec<(Option<Jid>, bool)> = found
            .iter()
            .map(|r| {
                let phone = r.pn_jid.as_ref().or(Some(&r.jid).filter(|j| !j.is_lid()));
                (phone.and_then(super::convert::jid), r.is_registered)
            })
            .collect();
        let matched = super::convert::registered(phones, &answers);
        Ok(phones.iter().cloned().zip(matched).collect())
    }
}

/// A group member as wamcp files people: by phone number when the group gives it (a LID group
/// names members by LID).
fn member(participant: &whatsapp_rust::features::GroupParticipant) -> Option<Jid> {
    let phone = participant.phone_number.as_ref().filter(|j| !j.is_lid());
    super::convert::jid(phone.unwrap_or(&participant.jid))
}
