//! The server's state machine: one account, its phone, its contacts, and the one linked device's
//! connection. Nodes from the client come in through [`Hub::received`]; answers and pushes go
//! out through the connection's queue. The control API ([`crate::control`]) acts on the same
//! [`World`] under the same lock, so every step is ordered.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Result, bail};
use tokio::sync::mpsc::UnboundedSender;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::noise::{Handshaken, ServerKey};
use crate::signal::Peer;
use crate::state::{self, DeviceShown, Saved, SavedPhone};
use crate::wire::{self, Out, attr, child};

/// The shared handle the listeners and the control API hold.
pub struct Hub {
    data_dir: PathBuf,
    world: Mutex<World>,
}

/// The live connection to the client.
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) tx: UnboundedSender<Out>,
    /// The client logged in (rather than registering for pairing).
    logged_in: bool,
}

/// A QR shown by the unpaired client: the refs fakewa handed it.
pub(crate) struct Pairing {
    pub(crate) refs: Vec<String>,
    /// The `pair-success` iq's id, once sent.
    pub(crate) success_id: Option<String>,
}

/// How the next login fails.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub reason: u16,
    /// A ban's length in seconds (402).
    pub expire: Option<u64>,
    /// A ban's code (402: 101…106).
    pub code: Option<u16>,
    /// How many logins in a row are refused so (at least one).
    pub times: u32,
}

/// A pairing code the client asked for, waiting for the user to type it on the phone.
pub(crate) struct CodeRequest {
    pub(crate) wrapped_companion_ephemeral: Vec<u8>,
    pub(crate) companion_noise: [u8; 32],
    pub(crate) reference: Vec<u8>,
    /// The phone's ephemeral key, once the user typed the code.
    pub(crate) primary_ephemeral: Option<wacore::libsignal::protocol::KeyPair>,
}

pub struct World {
    pub data_dir: PathBuf,
    /// `127.0.0.1:PORT` of the media host (the control listener).
    pub media_host: String,
    pub saved: Saved,
    pub phone: Peer,
    /// The contacts' Signal state, in the order of `saved.contacts`.
    pub contacts: Vec<Peer>,
    pub(crate) conn: Option<Conn>,
    next_conn: u64,
    pub(crate) pairing: Option<Pairing>,
    /// A pairing code the client asked for.
    pub(crate) code_request: Option<CodeRequest>,
    /// The client's ephemeral key from its code request, once unwrapped.
    pub(crate) companion_ephemeral: Option<[u8; 32]>,
    /// What the registering client said of itself (name, platform, history wanted), kept for
    /// the device it becomes.
    pub(crate) offered: Option<DeviceShown>,
    /// The next login fails so.
    pub fail_next: Option<Failure>,
    /// The next connection is closed before its handshake.
    pub refuse_next: bool,
    /// Connections accepted since start (a test's proof that a client did or did not come).
    pub connections: u64,
    /// Garbled messages to send again, whole, when the client asks, by id.
    pub(crate) resends: std::collections::HashMap<String, Resend>,
}

/// A message to send again, whole, when the client's retry receipt asks for it.
#[derive(Debug, Clone)]
pub struct Resend {
    /// The writer, an index of `saved.contacts`.
    pub sender: usize,
    /// The message, encoded and padded, to encrypt again.
    pub padded: Vec<u8>,
    /// The stanza without its `<enc>`.
    pub stanza: Node,
}

impl Hub {
    /// Opens the account in `data_dir`, or makes a new one for `phone`; `media_host` is the
    /// control listener, where the client uploads and downloads media.
    pub fn open(data_dir: &Path, phone: &str, media_host: SocketAddr) -> Result<Hub> {
        let saved = match state::load(data_dir)? {
            Some(saved) => saved,
            None => {
                let number: String = phone.chars().filter(char::is_ascii_digit).collect();
                if number.len() < 8 {
                    bail!("--phone must be a full international number, digits only or with +: {phone}");
                }
                let saved = Saved {
                    server_key: ServerKey::generate().private_bytes(),
                    phone: SavedPhone {
                        lid: format!("1{}", &number[number.len() - 8..]) + "0000",
                        number,
                        push_name: "Account Owner".into(),
                        peer: Peer::generate()?.save()?,
                        app_state_key: Vec::new(),
                        app_state_key_id: Vec::new(),
                    },
                    device: None,
                    devices_linked: 0,
                    contacts: Vec::new(),
                    groups: Vec::new(),
                    offline: Vec::new(),
                    received: Vec::new(),
                    next_id: 1,
                    collections: Default::default(),
                };
                state::store(data_dir, &saved)?;
                saved
            }
        };
        let contacts = saved.contacts.iter().map(|c| Peer::load(&c.peer)).collect::<Result<Vec<_>>>()?;
        let world = World {
            data_dir: data_dir.to_path_buf(),
            media_host: media_host.to_string(),
            phone: Peer::load(&saved.phone.peer)?,
            contacts,
            saved,
            conn: None,
            next_conn: 1,
            pairing: None,
            code_request: None,
            companion_ephemeral: None,
            offered: None,
            fail_next: None,
            refuse_next: false,
            connections: 0,
            resends: Default::default(),
        };
        Ok(Hub { data_dir: data_dir.to_path_buf(), world: Mutex::new(world) })
    }

    /// Runs `f` on the world, then saves it.
    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> Result<T>) -> Result<T> {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut world)?;
        world.saved.phone.peer = world.phone.save()?;
        for i in 0..world.contacts.len() {
            world.saved.contacts[i].peer = world.contacts[i].save()?;
        }
        state::store(&self.data_dir, &world.saved)?;
        Ok(out)
    }

    /// Runs `f` on the world without saving it (for reads).
    pub fn read<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&world)
    }

    pub fn server_key(&self) -> ServerKey {
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        ServerKey::from_private(&world.saved.server_key).expect("a key read back")
    }

    /// Whether this connection attempt is to be dropped (`/drop` while away, or a network
    /// failure the test asked for).
    pub fn refuse_connect(&self) -> bool {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        world.connections += 1;
        std::mem::take(&mut world.refuse_next)
    }

    /// A handshake finished: log in or offer pairing. Returns the connection's id.
    pub fn connected(&self, done: &Handshaken, tx: UnboundedSender<Out>) -> u64 {
        let result = self.with(|world| world.connected(done, tx));
        result.unwrap_or_else(|e| {
            tracing::warn!("connect: {e:#}");
            0
        })
    }

    pub fn disconnected(&self, id: u64) {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        if world.conn.as_ref().is_some_and(|c| c.id == id) {
            world.conn = None;
        }
    }

    /// A node from connection `id`.
    pub fn received(&self, id: u64, node: Node) {
        if let Err(e) = self.with(|world| world.handle(id, node)) {
            tracing::warn!("handling a node: {e:#}");
        }
    }
}

impl World {
    pub(crate) fn send(&self, node: Node) {
        if let Some(conn) = &self.conn {
            let _ = conn.tx.send(Out::Node(node));
        }
    }

    fn close(&self) {
        if let Some(conn) = &self.conn {
            let _ = conn.tx.send(Out::Close);
        }
    }

    pub fn new_id(&mut self) -> String {
        self.saved.next_id += 1;
        format!("FAKE{:012X}", self.saved.next_id)
    }

    fn connected(&mut self, done: &Handshaken, tx: UnboundedSender<Out>) -> Result<u64> {
        // A second connection replaces the first, as WhatsApp does.
        if let Some(old) = self.conn.take() {
            let _ = old.tx.send(Out::Close);
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let payload = &done.payload;
        let login = payload.username.is_some();
        self.conn = Some(Conn { id, tx, logged_in: false });
        if let Some(mut failure) = self.fail_next.take() {
            if failure.times > 1 {
                failure.times -= 1;
                self.fail_next = Some(failure.clone());
            }
            let mut node =
                NodeBuilder::new("failure").attr("reason", failure.reason.to_string()).attr("location", "frc");
            if let Some(expire) = failure.expire {
                node = node.attr("expire", expire.to_string());
            }
            if let Some(code) = failure.code {
                node = node.attr("code", code.to_string());
            }
            self.send(node.build());
            self.close();
            return Ok(id);
        }
        if !login {
            self.offered = DeviceShown::of(payload);
            self.offer_pairing();
            return Ok(id);
        }
        let known = self.saved.device.as_ref().is_some_and(|device| {
            payload.username == self.saved.phone.number.parse().ok()
                && payload.device == Some(u32::from(device.id))
                && device.noise_key == done.client_static
        });
        if !known {
            tracing::info!("a login from an unknown device: 401");
            self.send(NodeBuilder::new("failure").attr("reason", "401").attr("location", "frc").build());
            self.close();
            return Ok(id);
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.logged_in = true;
        }
        self.send(self.success_node());
        Ok(id)
    }

    fn success_node(&self) -> Node {
        let now = now().to_string();
        NodeBuilder::new("success")
            .attr("t", now.clone())
            .attr("props", "1")
            .attr("abprops", "1")
            .attr("location", "frc")
            .attr("creation", now)
            .attr("lid", format!("{}@lid", self.saved.phone.lid))
            .build()
    }

    fn handle(&mut self, id: u64, node: Node) -> Result<()> {
        if self.conn.as_ref().is_none_or(|c| c.id != id) {
            return Ok(());
        }
        match node.tag.as_ref() {
            "iq" => self.iq(node),
            "message" => self.client_message(node),
            "ack" | "receipt" => self.acknowledged(node),
            "presence" | "chatstate" => {
                self.record_presence(&node);
                Ok(())
            }
            "ib" => Ok(()),
            other => {
                tracing::info!("unhandled <{other}>: {}", wire::show(&node));
                Ok(())
            }
        }
    }

    /// The client answers an iq fakewa sent.
    pub(crate) fn iq_answer(&mut self, node: Node) -> Result<()> {
        let id = attr(&node, "id");
        if let Some(pairing) = &self.pairing
            && pairing.success_id.as_deref() == Some(id.as_str())
        {
            if child(&node, "pair-device-sign").is_some() {
                tracing::info!("the device signed its identity; restarting the stream (515)");
                self.pairing = None;
                self.send(NodeBuilder::new("stream:error").attr("code", "515").build());
                self.close();
            } else {
                tracing::warn!("pairing refused by the client: {}", wire::show(&node));
                self.saved.device = None;
            }
        }
        Ok(())
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl World {
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.logged_in)
    }
}
