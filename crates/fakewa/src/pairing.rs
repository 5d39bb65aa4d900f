//! The phone's side of linking a device: fakewa hands the unpaired client its QR refs, and when
//! the "phone" scans the QR (or the user types the pairing code) it signs the new device into
//! the account: `<pair-success>` with an ADV identity signed by the phone's identity key and
//! MACed with the QR's secret, exactly what the client verifies. The client countersigns, and
//! the stream restarts (515) into a normal login.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use buffa::Message as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

use crate::signal::ClientKeys;
use crate::state::SavedDevice;
use crate::world::{Pairing, World, now};

const ADV_PREFIX_ACCOUNT_SIGNATURE: &[u8] = &[6, 0];

/// How many QR refs one `<pair-device>` carries (WhatsApp sends six).
const REFS: usize = 6;

/// What the phone read from the QR.
pub struct Scanned {
    pub reference: String,
    pub noise: [u8; 32],
    pub identity: [u8; 32],
    pub adv_secret: [u8; 32],
}

/// Reads `ref,noise,identity,adv[,platform]`.
pub fn parse_qr(qr: &str) -> Result<Scanned> {
    let fields: Vec<&str> = qr.trim().split(',').collect();
    if fields.len() < 4 {
        bail!("a WhatsApp QR has at least four comma-separated fields (ref, noise key, identity key, secret)");
    }
    let key = |i: usize, what: &str| -> Result<[u8; 32]> {
        BASE64_STANDARD
            .decode(fields[i])
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("the QR's {what} is not 32 bytes in base64"))
    };
    Ok(Scanned {
        reference: fields[0].to_string(),
        noise: key(1, "noise key")?,
        identity: key(2, "identity key")?,
        adv_secret: key(3, "secret")?,
    })
}

impl World {
    /// The unpaired client connected: give it refs for its QR.
    pub(crate) fn offer_pairing(&mut self) {
        let refs: Vec<String> = (0..REFS).map(|_| format!("2@{}", hex::encode(rand::random::<[u8; 12]>()))).collect();
        let id = self.new_id();
        self.send(
            NodeBuilder::new("iq")
                .attr("from", "s.whatsapp.net")
                .attr("type", "set")
                .attr("id", id)
                .attr("xmlns", "md")
                .children([NodeBuilder::new("pair-device")
                    .children(refs.iter().map(|r| NodeBuilder::new("ref").bytes(r.as_bytes().to_vec()).build()))
                    .build()])
                .build(),
        );
        self.pairing = Some(Pairing { refs, success_id: None });
    }

    /// The phone scanned `qr`: link the device it names.
    pub fn scan(&mut self, qr: &str) -> Result<String> {
        let scanned = parse_qr(qr)?;
        let pairing = self.pairing.as_ref().context("no client is showing a QR: start `wamcp login` first")?;
        if !pairing.refs.contains(&scanned.reference) {
            bail!("this QR's ref is not one fakewa handed out (an old QR?)");
        }
        self.link(scanned.noise, scanned.identity, &scanned.adv_secret)
    }

    /// Signs the device into the account and sends `<pair-success>`.
    pub(crate) fn link(&mut self, noise: [u8; 32], identity: [u8; 32], adv_secret: &[u8; 32]) -> Result<String> {
        // Every device linked gets a new number, as on WhatsApp: the phone's Signal sessions with
        // an unlinked device must not be mistaken for sessions with the next one.
        self.saved.devices_linked += 1;
        let device_id: u16 = self.saved.devices_linked;
        let details = wa::ADVDeviceIdentity {
            raw_id: Some(rand::random::<u32>() & 0x7FFF_FFFF),
            timestamp: Some(now() as u64),
            key_index: Some(u32::from(device_id)),
            ..Default::default()
        }
        .encode_to_vec();
        let message = [ADV_PREFIX_ACCOUNT_SIGNATURE, &details, &identity].concat();
        let account_signature = self
            .phone
            .identity_pair()
            .private_key()
            .calculate_signature(&message, &mut rand::rng())
            .map_err(|e| anyhow!("signing the device: {e}"))?;
        let signed = wa::ADVSignedDeviceIdentity {
            details: Some(details),
            account_signature_key: Some(self.phone.identity_public()),
            account_signature: Some(account_signature.to_vec()),
            device_signature: None,
        }
        .encode_to_vec();
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(adv_secret).expect("any key length");
        mac.update(&signed);
        let container = wa::ADVSignedDeviceIdentityHMAC {
            details: Some(signed),
            hmac: Some(mac.finalize().into_bytes().to_vec()),
            ..Default::default()
        }
        .encode_to_vec();
        let jid = format!("{}:{device_id}@s.whatsapp.net", self.saved.phone.number);
        let lid = format!("{}:{device_id}@lid", self.saved.phone.lid);
        let id = self.new_id();
        self.send(
            NodeBuilder::new("iq")
                .attr("from", "s.whatsapp.net")
                .attr("type", "set")
                .attr("id", id.clone())
                .attr("xmlns", "md")
                .children([NodeBuilder::new("pair-success")
                    .children([
                        NodeBuilder::new("device-identity").bytes(container).build(),
                        NodeBuilder::new("device").attr("jid", jid.clone()).attr("lid", lid).build(),
                        NodeBuilder::new("platform").attr("name", "android").build(),
                    ])
                    .build()])
                .build(),
        );
        if let Some(pairing) = self.pairing.as_mut() {
            pairing.success_id = Some(id);
        }
        self.saved.device = Some(SavedDevice {
            id: device_id,
            noise_key: noise.to_vec(),
            keys: ClientKeys { identity: identity.to_vec(), ..Default::default() },
            push_name: String::new(),
            shown: self.offered.take(),
            logged_in: false,
        });
        Ok(jid)
    }
}
