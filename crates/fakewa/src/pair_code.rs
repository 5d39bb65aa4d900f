//! Linking with a pairing code (`wamcp login --phone`), from the phone's side: the client's
//! `companion_hello` carries its ephemeral key wrapped with the code; when the user types the
//! code into the phone (`POST /phone/code`), the phone unwraps it, answers with its own wrapped
//! ephemeral key and identity (`primary_hello`), takes the client's key bundle
//! (`companion_finish`), derives the same ADV secret the client did, and signs the device in
//! as for a QR. The crypto is wacore's own (`PairCodeUtils`), run from the other end.

use anyhow::{Context, Result, anyhow, bail};
use wacore::libsignal::protocol::{KeyPair, PublicKey};
use wacore::pair_code::PairCodeUtils;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::wire::{self, attr, bytes, child};
use crate::world::{CodeRequest, World, now};

fn key32(b: &[u8], what: &str) -> Result<[u8; 32]> {
    b.try_into().map_err(|_| anyhow!("{what} is not 32 bytes"))
}

impl World {
    /// `<link_code_companion_reg stage=…>` from the client.
    pub(crate) fn link_code(&mut self, node: &Node) -> Result<()> {
        let reg = child(node, "link_code_companion_reg").context("no link_code_companion_reg")?;
        match attr(reg, "stage").as_str() {
            "companion_hello" => {
                let phone = attr(reg, "jid");
                if crate::people::split_jid(&phone).0 != self.saved.phone.number {
                    self.send(wire::iq_error(node, 400, "bad-request"));
                    return Ok(());
                }
                let reference = format!("2@{}", hex::encode(rand::random::<[u8; 12]>())).into_bytes();
                self.code_request = Some(CodeRequest {
                    wrapped_companion_ephemeral: child(reg, "link_code_pairing_wrapped_companion_ephemeral_pub")
                        .map(bytes)
                        .unwrap_or_default(),
                    companion_noise: key32(
                        &child(reg, "companion_server_auth_key_pub").map(bytes).unwrap_or_default(),
                        "the companion's noise key",
                    )?,
                    reference: reference.clone(),
                    primary_ephemeral: None,
                });
                self.send(wire::iq_result(
                    node,
                    vec![
                        NodeBuilder::new("link_code_companion_reg")
                            .children([NodeBuilder::new("link_code_pairing_ref").bytes(reference).build()])
                            .build(),
                    ],
                ));
            }
            "companion_finish" => {
                self.send(wire::iq_result(node, vec![]));
                self.companion_finish(reg)?;
            }
            other => {
                tracing::info!("link_code_companion_reg stage {other:?} not known");
                self.send(wire::iq_error(node, 400, "bad-request"));
            }
        }
        Ok(())
    }

    /// The user typed `code` into the phone.
    pub fn enter_code(&mut self, code: &str) -> Result<()> {
        let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_uppercase();
        let request = self
            .code_request
            .as_mut()
            .context("no client asked for a pairing code: run `wamcp login --phone` first")?;
        // Unwrapping with a wrong code gives a wrong key, which the client's key bundle then fails
        // to match; the phone itself cannot tell, as on a real phone.
        let companion_ephemeral =
            PairCodeUtils::decrypt_primary_ephemeral_pub(&request.wrapped_companion_ephemeral, &code)
                .map_err(|e| anyhow!("the client's wrapped key: {e}"))?;
        let _ = PublicKey::from_djb_public_key_bytes(&companion_ephemeral)?;
        let ephemeral = KeyPair::generate(&mut rand::rng());
        let wrapped =
            PairCodeUtils::encrypt_ephemeral_pub(&key32(ephemeral.public_key.public_key_bytes(), "a key")?, &code);
        let reference = request.reference.clone();
        request.primary_ephemeral = Some(ephemeral);
        self.companion_ephemeral = Some(companion_ephemeral);
        let identity = self.phone.identity_public();
        let id = self.new_id();
        self.send(
            NodeBuilder::new("notification")
                .attr("from", "s.whatsapp.net")
                .attr("type", "link_code_companion_reg")
                .attr("id", id)
                .attr("t", now().to_string())
                .children([NodeBuilder::new("link_code_companion_reg")
                    .attr("stage", "primary_hello")
                    .children([
                        NodeBuilder::new("link_code_pairing_ref").bytes(reference).build(),
                        NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                            .bytes(wrapped.to_vec())
                            .build(),
                        NodeBuilder::new("primary_identity_pub").bytes(identity).build(),
                    ])
                    .build()])
                .build(),
        );
        Ok(())
    }

    /// The client's key bundle: derive the ADV secret and sign the device in.
    fn companion_finish(&mut self, reg: &Node) -> Result<()> {
        let request = self.code_request.take().context("companion_finish without a code request")?;
        let ephemeral = request.primary_ephemeral.context("companion_finish before the code was entered")?;
        let companion_ephemeral = self.companion_ephemeral.take().context("no companion ephemeral key")?;
        let wrapped = child(reg, "link_code_pairing_wrapped_key_bundle").map(bytes).unwrap_or_default();
        if wrapped.len() < 32 + 12 + 16 {
            bail!("the key bundle is too short");
        }
        let ephemeral_shared =
            ephemeral.private_key.calculate_agreement(&PublicKey::from_djb_public_key_bytes(&companion_ephemeral)?)?;
        let mut key = [0u8; 32];
        wacore::crypto::hkdf_sha256_into(
            &ephemeral_shared,
            Some(&wrapped[..32]),
            b"link_code_pairing_key_bundle_encryption_key",
            &mut key,
        )
        .map_err(|e| anyhow!("{e:?}"))?;
        let nonce: [u8; 12] = wrapped[32..44].try_into()?;
        let mut bundle = Vec::new();
        wacore::libsignal::crypto::aes_256_gcm_decrypt(&key, &nonce, b"", &wrapped[44..], &mut bundle)
            .map_err(|_| anyhow!("the key bundle does not decrypt: the code typed was not the one shown"))?;
        if bundle.len() != 96 {
            bail!("the key bundle is {} bytes, not 96", bundle.len());
        }
        let companion_identity = key32(&bundle[..32], "the companion identity")?;
        let identity_shared = self
            .phone
            .identity_pair()
            .private_key()
            .calculate_agreement(&PublicKey::from_djb_public_key_bytes(&companion_identity)?)?;
        let secret = [&ephemeral_shared[..], &identity_shared[..], &bundle[64..96]].concat();
        let mut adv_secret = [0u8; 32];
        wacore::crypto::hkdf_sha256_into(&secret, None, b"adv_secret", &mut adv_secret)
            .map_err(|e| anyhow!("{e:?}"))?;
        self.link(request.companion_noise, companion_identity, &adv_secret)?;
        Ok(())
    }
}
