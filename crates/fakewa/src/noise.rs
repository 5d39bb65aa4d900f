//! The server's side of WhatsApp's Noise handshake and of the encrypted frames after it.
//!
//! A client without a cached server key speaks Noise XX: its hello carries an ephemeral key; the
//! server answers with its own ephemeral, its static key and a certificate chain (built by
//! wacore-noise's test utilities: the client only accepts it with the
//! `danger-skip-cert-chain-verify` feature, which wamcp's `test-server` build turns on); the
//! client finishes with its static key and its `ClientPayload`. A client that cached the key
//! from an earlier XX speaks Noise IK: its static key and payload come in the first message.
//!
//! After the handshake every frame is a 3-byte length and an AES-GCM ciphertext under a counter
//! nonce, one counter per direction; inside is a binary node (flag byte first).

use anyhow::{Context, Result, anyhow, bail};
use buffa::Message as _;
use wacore::libsignal::protocol::KeyPair;
use wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, WA_CONN_HEADER};
use wacore_noise::framing::FrameDecoder;
use wacore_noise::{NoiseCipher, NoiseHandshake};
use waproto::whatsapp as wa;

/// The server's long-lived Noise identity and the certificate chain naming it.
pub struct ServerKey {
    pair: KeyPair,
    chain: Vec<u8>,
}

impl ServerKey {
    /// A key from its 32 private bytes (kept in the state file so a restarted fakewa is the same
    /// server to a client that cached it).
    pub fn from_private(private: &[u8]) -> Result<ServerKey> {
        let private = wacore::libsignal::protocol::PrivateKey::deserialize(private)?;
        let pair = KeyPair::try_from(private)?;
        let public: [u8; 32] = pair.public_key.public_key_bytes().try_into()?;
        Ok(ServerKey { chain: wacore_noise::test_util::build_cert_chain_bytes(&public), pair })
    }

    pub fn generate() -> ServerKey {
        let pair = KeyPair::generate(&mut rand::rng());
        let public: [u8; 32] = pair.public_key.public_key_bytes().try_into().expect("32-byte key");
        ServerKey { chain: wacore_noise::test_util::build_cert_chain_bytes(&public), pair }
    }

    pub fn private_bytes(&self) -> Vec<u8> {
        self.pair.private_key.serialize().to_vec()
    }

    fn public(&self) -> [u8; 32] {
        self.pair.public_key.public_key_bytes().try_into().expect("32-byte key")
    }
}

/// A finished handshake: the client's payload and the two ciphers.
pub struct Handshaken {
    pub payload: wa::ClientPayload,
    /// The client's static Noise key (its device's noise key).
    pub client_static: [u8; 32],
    pub transport: Transport,
}

/// Reads frames from the client's bytes as they come (the first with the `WA` header).
pub struct Frames {
    decoder: FrameDecoder,
    header_seen: bool,
    buffered: Vec<u8>,
}

impl Default for Frames {
    fn default() -> Frames {
        Frames { decoder: FrameDecoder::new(), header_seen: false, buffered: Vec::new() }
    }
}

impl Frames {
    /// Takes more bytes; returns the complete frames so far.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        if !self.header_seen {
            self.buffered.extend_from_slice(data);
            // An optional edge-routing preamble ("ED" + 3-byte length + routing) may come first.
            let mut at = 0;
            if self.buffered.starts_with(b"ED") {
                if self.buffered.len() < 5 {
                    return Ok(Vec::new());
                }
                let len = u32::from_be_bytes([0, self.buffered[2], self.buffered[3], self.buffered[4]]) as usize;
                at = 5 + len;
            }
            if self.buffered.len() < at + WA_CONN_HEADER.len() {
                return Ok(Vec::new());
            }
            if self.buffered[at..at + 2] != WA_CONN_HEADER[..2] {
                bail!("the connection does not start with WhatsApp's header");
            }
            self.header_seen = true;
            let rest = self.buffered.split_off(at + WA_CONN_HEADER.len());
            self.decoder.feed(&rest);
        } else {
            self.decoder.feed(data);
        }
        let mut frames = Vec::new();
        while let Some(frame) = self.decoder.decode_frame() {
            frames.push(frame.to_vec());
        }
        Ok(frames)
    }
}

/// The encrypted frame layer after the handshake.
pub struct Transport {
    read: NoiseCipher,
    write: NoiseCipher,
    read_counter: u32,
    write_counter: u32,
}

impl Transport {
    /// Decrypts one frame from the client.
    pub fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>> {
        let mut buffer = frame.to_vec();
        self.read
            .decrypt_in_place_with_counter(self.read_counter, &mut buffer)
            .map_err(|e| anyhow!("a frame from the client does not decrypt: {e}"))?;
        self.read_counter += 1;
        Ok(buffer)
    }

    /// Encrypts `plaintext` and frames it for the client.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let ciphertext = self.write.encrypt_with_counter(self.write_counter, plaintext)?;
        self.write_counter += 1;
        frame(&ciphertext)
    }
}

/// One frame: a 3-byte big-endian length, then the bytes.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>> {
    wacore_noise::framing::encode_frame(payload, None)
}

/// The outcome of the client's first message.
pub enum FirstReply {
    /// XX: the server hello to send; the client's finish completes it ([`Xx::finish`]).
    Xx(Vec<u8>, Box<Xx>),
    /// IK: done; the server hello to send.
    Ik(Vec<u8>, Box<Handshaken>),
}

/// An XX handshake waiting for the client's finish.
pub struct Xx {
    noise: NoiseHandshake,
    server_ephemeral: KeyPair,
}

/// Answers the client's first handshake message.
pub fn respond(key: &ServerKey, hello: &[u8]) -> Result<FirstReply> {
    let message = wa::HandshakeMessage::decode_from_slice(hello).context("the client hello")?;
    let hello = message.client_hello.into_option().context("no client hello")?;
    let client_ephemeral: [u8; 32] =
        hello.ephemeral.context("no ephemeral key")?.try_into().map_err(|_| anyhow!("bad ephemeral"))?;
    let server_ephemeral = KeyPair::generate(&mut rand::rng());
    let server_ephemeral_public: [u8; 32] = server_ephemeral.public_key.public_key_bytes().try_into()?;
    match (hello.r#static, hello.payload) {
        (Some(encrypted_static), Some(encrypted_payload)) => {
            // IK: -> e, es, s, ss, payload;  <- e, ee, se, payload (the certificates).
            let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER)?;
            noise.authenticate(&key.public());
            noise.authenticate(&client_ephemeral);
            noise.mix_shared_secret(key.pair.private_key.serialize(), &client_ephemeral)?;
            let client_static: [u8; 32] =
                noise.decrypt(&encrypted_static)?.try_into().map_err(|_| anyhow!("bad static key"))?;
            noise.mix_shared_secret(key.pair.private_key.serialize(), &client_static)?;
            let payload = noise.decrypt(&encrypted_payload)?;
            noise.authenticate(&server_ephemeral_public);
            noise.mix_shared_secret(server_ephemeral.private_key.serialize(), &client_ephemeral)?;
            noise.mix_shared_secret(server_ephemeral.private_key.serialize(), &client_static)?;
            let certificates = noise.encrypt(&key.chain)?;
            let reply = server_hello(server_ephemeral_public, None, certificates);
            let (read, write) = noise.finish()?;
            Ok(FirstReply::Ik(
                reply,
                Box::new(Handshaken {
                    payload: wa::ClientPayload::decode_from_slice(&payload).context("the client payload")?,
                    client_static,
                    transport: Transport { read, write, read_counter: 0, write_counter: 0 },
                }),
            ))
        }
        _ => {
            // XX: -> e;  <- e, ee, s, es, payload (the certificates);  -> s, se, payload.
            let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER)?;
            noise.authenticate(&client_ephemeral);
            noise.authenticate(&server_ephemeral_public);
            noise.mix_shared_secret(server_ephemeral.private_key.serialize(), &client_ephemeral)?;
            let encrypted_static = noise.encrypt(&key.public())?;
            noise.mix_shared_secret(key.pair.private_key.serialize(), &client_ephemeral)?;
            let certificates = noise.encrypt(&key.chain)?;
            let reply = server_hello(server_ephemeral_public, Some(encrypted_static), certificates);
            Ok(FirstReply::Xx(reply, Box::new(Xx { noise, server_ephemeral })))
        }
    }
}

impl Xx {
    /// Takes the client's finish: its static key and payload.
    pub fn finish(mut self, finish: &[u8]) -> Result<Handshaken> {
        let message = wa::HandshakeMessage::decode_from_slice(finish).context("the client finish")?;
        let finish = message.client_finish.into_option().context("no client finish")?;
        let client_static: [u8; 32] = self
            .noise
            .decrypt(&finish.r#static.context("no static key")?)?
            .try_into()
            .map_err(|_| anyhow!("bad static key"))?;
        self.noise.mix_shared_secret(self.server_ephemeral.private_key.serialize(), &client_static)?;
        let payload = self.noise.decrypt(&finish.payload.context("no payload")?)?;
        let (read, write) = self.noise.finish()?;
        Ok(Handshaken {
            payload: wa::ClientPayload::decode_from_slice(&payload).context("the client payload")?,
            client_static,
            transport: Transport { read, write, read_counter: 0, write_counter: 0 },
        })
    }
}

fn server_hello(ephemeral: [u8; 32], encrypted_static: Option<Vec<u8>>, certificates: Vec<u8>) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral.to_vec()),
            r#static: encrypted_static,
            payload: Some(certificates),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}
