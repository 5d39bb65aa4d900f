//! Who a chat or recipient argument names: a phone number in any notation, a JID, the exact name
//! of one contact or group, or `Name (jid)` as completions offer it.

use wamcp_core::Jid;
use wamcp_store::Reader;

/// The chat `given` names; `parameter` is named in errors.
pub fn resolve(reader: &Reader, parameter: &str, given: &str) -> Result<Jid, String> {
    let given = given.trim();
    if given.is_empty() {
        return Err(format!(
            "invalid value for parameter '{parameter}': it is empty; give a phone number with country code, \
             a JID, or a contact or group name"
        ));
    }
    // "Alice Smith (447700900123@s.whatsapp.net)", as completions offer it: the JID decides.
    let inside = given.strip_suffix(')').and_then(|head| head.rsplit_once('(')).map(|(_, jid)| jid);
    if let Some(jid) = inside.filter(|jid| jid.contains('@')).and_then(|jid| Jid::parse(jid).ok()) {
        return Ok(jid);
    }
    if let Ok(jid) = Jid::parse_person(given) {
        return Ok(jid);
    }
    let named = reader.recipients_named(given).map_err(|e| e.to_string())?;
    match named.as_slice() {
        [] => Err(format!(
            "no contact or group is named '{given}', and it is not a phone number or JID; \
             search_contacts or list_chats find the exact name"
        )),
        [one] => Ok(one.jid.clone()),
        many => {
            let candidates: Vec<String> = many.iter().map(|r| format!("{} ({})", r.name, r.jid)).collect();
            Err(format!(
                "'{given}' names {} chats: {}; give the JID of the one you mean",
                many.len(),
                candidates.join(", ")
            ))
        }
    }
}
