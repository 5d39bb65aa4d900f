//! Signal on fakewa's side: every person fakewa plays (the account's phone and each contact) is
//! a [`Peer`] with its own identity, prekeys, sessions and sender keys, built on
//! wacore-libsignal, the same library the client uses. The client's uploaded keys are
//! [`ClientKeys`]: the bundle a peer starts a session from, one one-time prekey per session, as
//! the real server hands them out.
//!
//! A peer talks to one device only, the linked client, so its stores are small maps; they are
//! saved as bytes ([`SavedPeer`]) with the rest of fakewa's state.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use wacore::libsignal::protocol::error::Result as SignalResult;
use wacore::libsignal::protocol::{
    self as signal, CiphertextMessage, DeviceId, Direction, GenericSignedPreKey, IdentityChange, IdentityKey,
    IdentityKeyPair, IdentityKeyStore, KeyPair, PreKeyBundle, PreKeyId, PreKeyRecord, PreKeySignalMessage, PreKeyStore,
    ProtocolAddress, PublicKey, SenderKeyDistributionMessage, SenderKeyName, SenderKeyRecord, SenderKeyStore,
    SessionRecord, SessionStore, SignalMessage, SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord,
    SignedPreKeyStore, Timestamp, UsePQRatchet,
};

/// How a pairwise message travels: `pkmsg` until the other side answered, `msg` after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncType {
    PreKey,
    Whisper,
}

impl EncType {
    pub fn as_str(self) -> &'static str {
        match self {
            EncType::PreKey => "pkmsg",
            EncType::Whisper => "msg",
        }
    }
}

/// One-time prekeys a peer keeps ready for the client to fetch.
const PREKEYS_READY: u32 = 20;

fn rng() -> rand::rngs::StdRng {
    rand::make_rng::<rand::rngs::StdRng>()
}

/// The protocol address fakewa keys a session with the client device under (local only).
pub fn address(name: &str) -> ProtocolAddress {
    ProtocolAddress::new(name, DeviceId::new(0))
}

// --- the stores -------------------------------------------------------------------------------

struct Identities {
    pair: IdentityKeyPair,
    registration_id: u32,
    known: HashMap<ProtocolAddress, IdentityKey>,
}

#[async_trait]
impl IdentityKeyStore for Identities {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        Ok(self.pair.clone())
    }
    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        Ok(self.registration_id)
    }
    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let changed = self.known.get(address).is_some_and(|known| known != identity);
        self.known.insert(address.clone(), *identity);
        Ok(IdentityChange::from_changed(changed))
    }
    async fn is_trusted_identity(&self, _: &ProtocolAddress, _: &IdentityKey, _: Direction) -> SignalResult<bool> {
        // As WhatsApp clients do: trust on first use, and on change.
        Ok(true)
    }
    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        Ok(self.known.get(address).copied())
    }
}

#[derive(Default)]
struct PreKeys(BTreeMap<u32, PreKeyRecord>);

#[async_trait]
impl PreKeyStore for PreKeys {
    async fn get_pre_key(&self, id: PreKeyId) -> SignalResult<PreKeyRecord> {
        self.0.get(&u32::from(id)).cloned().ok_or(SignalProtocolError::InvalidPreKeyId)
    }
    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SignalResult<()> {
        self.0.insert(id.into(), record.clone());
        Ok(())
    }
    async fn remove_pre_key(&mut self, id: PreKeyId) -> SignalResult<()> {
        self.0.remove(&u32::from(id));
        Ok(())
    }
}

struct SignedPreKeys(SignedPreKeyRecord);

#[async_trait]
impl SignedPreKeyStore for SignedPreKeys {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SignalResult<SignedPreKeyRecord> {
        if self.0.id()? == id { Ok(self.0.clone()) } else { Err(SignalProtocolError::InvalidSignedPreKeyId) }
    }
    async fn save_signed_pre_key(&mut self, _: SignedPreKeyId, record: &SignedPreKeyRecord) -> SignalResult<()> {
        self.0 = record.clone();
        Ok(())
    }
}

#[derive(Default)]
struct Sessions(HashMap<ProtocolAddress, SessionRecord>);

#[async_trait]
impl SessionStore for Sessions {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        Ok(self.0.get(address).cloned())
    }
    async fn has_session(&self, address: &ProtocolAddress) -> SignalResult<bool> {
        Ok(self.0.contains_key(address))
    }
    async fn store_session(&mut self, address: &ProtocolAddress, record: SessionRecord) -> SignalResult<()> {
        self.0.insert(address.clone(), record);
        Ok(())
    }
}

#[derive(Default)]
struct SenderKeys(HashMap<String, SenderKeyRecord>);

#[async_trait]
impl SenderKeyStore for SenderKeys {
    async fn store_sender_key(&mut self, name: &SenderKeyName, record: SenderKeyRecord) -> SignalResult<()> {
        self.0.insert(name.cache_key().to_string(), record);
        Ok(())
    }
    async fn load_sender_key(&self, name: &SenderKeyName) -> SignalResult<Option<SenderKeyRecord>> {
        Ok(self.0.get(name.cache_key()).cloned())
    }
}

// --- the client's uploaded keys ---------------------------------------------------------------

/// What the client uploaded (`<iq xmlns="encrypt" type="set">`): the server's copy, from which
/// each new session takes one one-time prekey.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientKeys {
    pub registration_id: u32,
    /// 32 raw bytes.
    #[serde(with = "hex_bytes")]
    pub identity: Vec<u8>,
    pub signed_id: u32,
    #[serde(with = "hex_bytes")]
    pub signed_public: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub signed_signature: Vec<u8>,
    /// One-time prekeys not yet handed out: id → 32 raw bytes.
    #[serde(with = "hex_map")]
    pub prekeys: BTreeMap<u32, Vec<u8>>,
}

impl ClientKeys {
    /// A bundle to start a session with the client, using up one one-time prekey if any is left.
    pub fn take_bundle(&mut self) -> Result<PreKeyBundle> {
        let one_time = match self.prekeys.pop_first() {
            Some((id, public)) => Some((PreKeyId::from(id), PublicKey::from_djb_public_key_bytes(&public)?)),
            None => None,
        };
        Ok(PreKeyBundle::new(
            self.registration_id,
            DeviceId::new(0),
            one_time,
            SignedPreKeyId::from(self.signed_id),
            PublicKey::from_djb_public_key_bytes(&self.signed_public)?,
            self.signed_signature.clone(),
            IdentityKey::new(PublicKey::from_djb_public_key_bytes(&self.identity)?),
        )?)
    }
}

// --- a peer -----------------------------------------------------------------------------------

/// A person fakewa plays, as Signal knows them.
pub struct Peer {
    identities: Identities,
    signed: SignedPreKeys,
    prekeys: PreKeys,
    next_prekey: u32,
    sessions: Sessions,
    sender_keys: SenderKeys,
}

/// The prekey bundle a peer hands out when the client fetches its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub registration_id: u32,
    pub identity: Vec<u8>,
    pub signed_id: u32,
    pub signed_public: Vec<u8>,
    pub signed_signature: Vec<u8>,
    pub one_time: Option<(u32, Vec<u8>)>,
}

impl Peer {
    pub fn generate() -> Result<Peer> {
        let mut rng = rng();
        let pair = IdentityKeyPair::generate(&mut rng);
        let registration_id = rand::RngExt::random_range(&mut rng, 1..=0x3FFF_u32);
        let signed_pair = KeyPair::generate(&mut rng);
        let signature = pair.private_key().calculate_signature(&signed_pair.public_key.serialize(), &mut rng)?;
        let signed = SignedPreKeyRecord::new(
            SignedPreKeyId::from(1u32),
            Timestamp::from_epoch_millis(0),
            &signed_pair,
            &signature,
        );
        let mut peer = Peer {
            identities: Identities { pair, registration_id, known: HashMap::new() },
            signed: SignedPreKeys(signed),
            prekeys: PreKeys::default(),
            next_prekey: 1,
            sessions: Sessions::default(),
            sender_keys: SenderKeys::default(),
        };
        peer.replenish();
        Ok(peer)
    }

    fn replenish(&mut self) {
        let mut rng = rng();
        while self.prekeys.0.len() < PREKEYS_READY as usize {
            let id = self.next_prekey;
            self.next_prekey += 1;
            self.prekeys.0.insert(id, PreKeyRecord::new(PreKeyId::from(id), &KeyPair::generate(&mut rng)));
        }
    }

    /// The identity public key, 32 raw bytes.
    pub fn identity_public(&self) -> Vec<u8> {
        self.identities.pair.public_key().public_key_bytes().to_vec()
    }

    pub fn identity_pair(&self) -> &IdentityKeyPair {
        &self.identities.pair
    }

    pub fn registration_id(&self) -> u32 {
        self.identities.registration_id
    }

    /// A bundle for the client to start a session from; hands out one one-time prekey (it is
    /// kept until the client's first message uses it).
    pub fn bundle(&mut self) -> Result<Bundle> {
        let handed_out = self.prekeys.0.iter().next_back().map(|(id, record)| (*id, record.clone()));
        let one_time = match handed_out {
            Some((id, record)) => Some((id, record.public_key()?.public_key_bytes().to_vec())),
            None => None,
        };
        let signed = &self.signed.0;
        Ok(Bundle {
            registration_id: self.identities.registration_id,
            identity: self.identity_public(),
            signed_id: signed.id()?.into(),
            signed_public: signed.public_key()?.public_key_bytes().to_vec(),
            signed_signature: signed.signature()?,
            one_time,
        })
    }

    pub fn has_session(&self, with: &str) -> bool {
        self.sessions.0.contains_key(&address(with))
    }

    /// Forgets the session with `with` (after the client lost it: a retry receipt).
    pub fn drop_session(&mut self, with: &str) {
        self.sessions.0.remove(&address(with));
    }

    /// Encrypts `plaintext` (already padded) for the device named `with`; starts a session from
    /// `client`'s keys first when there is none.
    pub async fn encrypt(
        &mut self,
        with: &str,
        client: &mut ClientKeys,
        plaintext: &[u8],
    ) -> Result<(EncType, Vec<u8>)> {
        let to = address(with);
        if !self.sessions.0.contains_key(&to) {
            let bundle = client.take_bundle().context("the client's prekey bundle")?;
            signal::process_prekey_bundle(
                &to,
                &mut self.sessions,
                &mut self.identities,
                &bundle,
                &mut rng(),
                UsePQRatchet::No,
            )
            .await?;
        }
        let message = signal::message_encrypt(plaintext, &to, &mut self.sessions, &mut self.identities).await?;
        Ok(match message {
            CiphertextMessage::PreKeySignalMessage(m) => (EncType::PreKey, m.serialized().to_vec()),
            CiphertextMessage::SignalMessage(m) => (EncType::Whisper, m.serialized().to_vec()),
            other => return Err(anyhow!("unexpected ciphertext kind {:?}", other.message_type())),
        })
    }

    /// Decrypts a pairwise message from the device named `from`; returns the padded plaintext.
    pub async fn decrypt(&mut self, from: &str, kind: EncType, bytes: &[u8]) -> Result<Vec<u8>> {
        let at = address(from);
        let message = match kind {
            EncType::PreKey => CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(bytes)?),
            EncType::Whisper => CiphertextMessage::SignalMessage(SignalMessage::try_from(bytes)?),
        };
        let result = signal::message_decrypt(
            &message,
            &at,
            &mut self.sessions,
            &mut self.identities,
            &mut self.prekeys,
            &self.signed,
            &mut rng(),
            UsePQRatchet::No,
        )
        .await?;
        if let Some(used) = result.consumed_prekey_id {
            self.prekeys.0.remove(&u32::from(used));
            self.replenish();
        }
        Ok(result.plaintext)
    }

    /// The sender key this peer distributes in `group` (made on first use).
    pub async fn sender_key_distribution(&mut self, group: &str, own_name: &str) -> Result<Vec<u8>> {
        let name = SenderKeyName::from_parts(group, own_name);
        let skdm = signal::create_sender_key_distribution_message(&name, &mut self.sender_keys, &mut rng()).await?;
        Ok(skdm.serialized().to_vec())
    }

    /// Encrypts `plaintext` (already padded) to `group` with this peer's sender key.
    pub async fn group_encrypt(&mut self, group: &str, own_name: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let name = SenderKeyName::from_parts(group, own_name);
        let message = signal::group_encrypt(&mut self.sender_keys, &name, plaintext, &mut rng()).await?;
        Ok(message.serialized().to_vec())
    }

    /// Takes the sender key that `sender` distributes in `group`.
    pub async fn accept_sender_key(&mut self, group: &str, sender: &str, skdm: &[u8]) -> Result<()> {
        let name = SenderKeyName::from_parts(group, sender);
        let skdm = SenderKeyDistributionMessage::try_from(skdm)?;
        signal::process_sender_key_distribution_message(&name, &skdm, &mut self.sender_keys).await?;
        Ok(())
    }

    /// Decrypts `sender`'s group message; returns the padded plaintext.
    pub async fn group_decrypt(&mut self, group: &str, sender: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        let name = SenderKeyName::from_parts(group, sender);
        Ok(signal::group_decrypt(bytes, &mut self.sender_keys, &name).await?)
    }

    pub fn save(&self) -> Result<SavedPeer> {
        Ok(SavedPeer {
            identity: self.identities.pair.serialize().to_vec(),
            registration_id: self.identities.registration_id,
            known: self.identities.known.iter().map(|(a, k)| (a.name().to_string(), k.serialize().to_vec())).collect(),
            signed: self.signed.0.serialize()?,
            prekeys: self.prekeys.0.iter().map(|(id, r)| Ok((*id, r.serialize()?))).collect::<Result<_>>()?,
            next_prekey: self.next_prekey,
            sessions: self
                .sessions
                .0
                .iter()
                .map(|(a, r)| Ok((a.name().to_string(), r.serialize()?)))
                .collect::<Result<_>>()?,
            sender_keys: self
                .sender_keys
                .0
                .iter()
                .map(|(n, r)| Ok((n.clone(), r.serialize()?)))
                .collect::<Result<_>>()?,
        })
    }

    pub fn load(saved: &SavedPeer) -> Result<Peer> {
        Ok(Peer {
            identities: Identities {
                pair: IdentityKeyPair::try_from(saved.identity.as_slice())?,
                registration_id: saved.registration_id,
                known: saved
                    .known
                    .iter()
                    .map(|(name, key)| Ok((address(name), IdentityKey::try_from(key.as_slice())?)))
                    .collect::<Result<_>>()?,
            },
            signed: SignedPreKeys(SignedPreKeyRecord::deserialize(&saved.signed)?),
            prekeys: PreKeys(
                saved.prekeys.iter().map(|(id, r)| Ok((*id, PreKeyRecord::deserialize(r)?))).collect::<Result<_>>()?,
            ),
            next_prekey: saved.next_prekey,
            sessions: Sessions(
                saved
                    .sessions
                    .iter()
                    .map(|(name, r)| Ok((address(name), SessionRecord::deserialize(r)?)))
                    .collect::<Result<_>>()?,
            ),
            sender_keys: SenderKeys(
                saved
                    .sender_keys
                    .iter()
                    .map(|(n, r)| Ok((n.clone(), SenderKeyRecord::deserialize(r)?)))
                    .collect::<Result<_>>()?,
            ),
        })
    }
}

/// A peer as saved on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPeer {
    #[serde(with = "hex_bytes")]
    identity: Vec<u8>,
    registration_id: u32,
    #[serde(with = "hex_pairs")]
    known: Vec<(String, Vec<u8>)>,
    #[serde(with = "hex_bytes")]
    signed: Vec<u8>,
    #[serde(with = "hex_map")]
    prekeys: BTreeMap<u32, Vec<u8>>,
    next_prekey: u32,
    #[serde(with = "hex_pairs")]
    sessions: Vec<(String, Vec<u8>)>,
    #[serde(with = "hex_pairs")]
    sender_keys: Vec<(String, Vec<u8>)>,
}

/// Bytes as hex strings in the state file.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

mod hex_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &BTreeMap<u32, Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k.to_string(), hex::encode(v))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, Vec<u8>>, D::Error> {
        BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| {
                Ok((k.parse().map_err(serde::de::Error::custom)?, hex::decode(v).map_err(serde::de::Error::custom)?))
            })
            .collect()
    }
}

mod hex_pairs {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(pairs.iter().map(|(k, v)| (k.clone(), hex::encode(v))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Vec<u8>)>, D::Error> {
        std::collections::BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| Ok((k, hex::decode(v).map_err(serde::de::Error::custom)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two peers, one playing the client: a session from the uploaded keys, both ways.
    #[tokio::test]
    async fn a_peer_starts_a_session_from_the_clients_keys_and_both_sides_read_each_other() {
        let mut alice = Peer::generate().unwrap();
        let mut client = Peer::generate().unwrap();
        let bundle = client.bundle().unwrap();
        let (id, public) = bundle.one_time.clone().unwrap();
        let mut keys = ClientKeys {
            registration_id: bundle.registration_id,
            identity: bundle.identity.clone(),
            signed_id: bundle.signed_id,
            signed_public: bundle.signed_public.clone(),
            signed_signature: bundle.signed_signature.clone(),
            prekeys: BTreeMap::from([(id, public)]),
        };
        let (kind, bytes) = alice.encrypt("client", &mut keys, b"hello").await.unwrap();
        assert_eq!(kind, EncType::PreKey);
        assert!(keys.prekeys.is_empty(), "the one-time prekey is used up");
        assert_eq!(client.decrypt("alice", kind, &bytes).await.unwrap(), b"hello");
        let (kind, bytes) = client.encrypt("alice", &mut ClientKeys::default(), b"hi back").await.unwrap();
        assert_eq!(kind, EncType::Whisper);
        let mut alice = Peer::load(&alice.save().unwrap()).unwrap();
        assert_eq!(alice.decrypt("client", kind, &bytes).await.unwrap(), b"hi back");
        let (kind, _) = alice.encrypt("client", &mut ClientKeys::default(), b"again").await.unwrap();
        assert_eq!(kind, EncType::Whisper, "answered: plain messages from now on, after a reload too");
    }
}
