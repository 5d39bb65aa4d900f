//! Tools about people and groups: `get_contact` and `list_groups` read the store;
//! `get_group_info` and `is_on_whatsapp` ask WhatsApp through the daemon.

use rmcp::model::JsonObject;
use rmcp::{tool, tool_router};
use wamcp_api::{GetGroup, IsOnWhatsApp};
use wamcp_core::Jid;

use crate::args::{self, MAX_CHATS};
use crate::output::{self, ChatsOut, ContactOut, GroupOut, NumberOut, NumbersOut, Participant};
use crate::schema;
use crate::send_args::{ContactArgs, GroupInfoArgs, ListGroupsArgs, NumbersArgs};
use crate::send_tools::finish;
use crate::shape;
use crate::tools::{ToolResult, Tools};

#[tool_router(router = people_router, vis = "pub(crate)")]
impl Tools {
    /// Get a contact by phone number, LID or JID: their names and both JIDs (phone and LID).
    #[tool(
        input_schema = schema::input::<ContactArgs>(),
        output_schema = schema::output::<ContactOut>(),
        annotations(title = "Get contact", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_contact(&self, arguments: JsonObject) -> ToolResult {
        finish((|| {
            let a: ContactArgs = args::parse(arguments)?;
            let person = args::person("identifier", &a.identifier)?;
            let reader = self.reader();
            let identities = reader.identities(&person).map_err(|e| e.to_string())?;
            let names: Vec<String> = identities.iter().map(Jid::to_string).collect();
            let mut found = None;
            // Contacts are found by the number of any of the person's JIDs.
            for identity in &identities {
                let candidates = reader.search_contacts(identity.user()).map_err(|e| e.to_string())?;
                found = candidates.into_iter().find(|c| {
                    [Some(&c.jid), c.phone_jid.as_ref(), c.lid.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|j| names.contains(j))
                });
                if found.is_some() {
                    break;
                }
            }
            let contact = found.ok_or_else(|| {
                format!("no contact or chat with {}; search_contacts finds people by name", a.identifier)
            })?;
            let out = ContactOut { contact };
            Ok(shape::read(a.format, &out, || wamcp_core::render::contacts(std::slice::from_ref(&out.contact))))
        })())
    }

    /// List the WhatsApp groups in the store, most recently active first.
    #[tool(
        input_schema = schema::input::<ListGroupsArgs>(),
        output_schema = schema::output::<ChatsOut>(),
        annotations(title = "List groups", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_groups(&self, arguments: JsonObject) -> ToolResult {
        finish((|| {
            let a: ListGroupsArgs = args::parse(arguments)?;
            let limit = args::limit("limit", a.limit, MAX_CHATS)?;
            let groups = self.reader().groups(limit + 1, args::offset(a.page, limit)?).map_err(|e| e.to_string())?;
            Ok(shape::chats_page(a.format, groups, a.page, limit))
        })())
    }

    /// Get a group's subject, description and participants (with admin flags) from WhatsApp.
    #[tool(
        input_schema = schema::input::<GroupInfoArgs>(),
        output_schema = schema::output::<GroupOut>(),
        annotations(title = "Get group info", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn get_group_info(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: GroupInfoArgs = args::parse(arguments)?;
                let group = args::chat_jid("jid", &a.jid)?;
                let sending = self.sending()?;
                let answer =
                    sending.daemon.call(GetGroup { jid: group.to_string() }).await.map_err(|e| e.to_string())?;
                let mut participants: Vec<Participant> = answer
                    .participants
                    .into_iter()
                    .map(|member| Participant { jid: member.jid, is_admin: member.is_admin, name: None })
                    .collect();
                {
                    let reader = self.reader();
                    for participant in &mut participants {
                        if let Ok(jid) = Jid::parse(&participant.jid) {
                            participant.name = reader
                                .search_contacts(jid.user())
                                .ok()
                                .and_then(|found| found.into_iter().find(|c| c.jid == participant.jid))
                                .and_then(|c| c.name);
                        }
                    }
                }
                let out = GroupOut {
                    jid: group.to_string(),
                    subject: answer.subject,
                    description: answer.description,
                    participants,
                };
                // The subject and description are set by the group's members: fenced like messages.
                let fence = wamcp_core::render::Fence::random();
                let mut text = format!(
                    "{}\nGroup {} ({}), {} participants",
                    fence.note(),
                    fence.wrap(&out.subject),
                    out.jid,
                    out.participants.len()
                );
                if let Some(description) = out.description.as_deref().filter(|d| !d.trim().is_empty()) {
                    text.push_str(&format!("\nDescription: {}", fence.wrap(description)));
                }
                Ok(shape::read(a.format, &out, || text))
            }
            .await,
        )
    }

    /// Check which phone numbers have WhatsApp.
    #[tool(
        input_schema = schema::input::<NumbersArgs>(),
        output_schema = schema::output::<NumbersOut>(),
        annotations(title = "Is on WhatsApp", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn is_on_whatsapp(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: NumbersArgs = args::parse(arguments)?;
                let sending = self.sending()?;
                let answer = sending.daemon.call(IsOnWhatsApp { phones: a.phones }).await.map_err(|e| e.to_string())?;
                let results: Vec<NumberOut> = answer
                    .results
                    .into_iter()
                    .map(|r| NumberOut { phone: r.phone, on_whatsapp: r.on_whatsapp, jid: r.jid })
                    .collect();
                let text = results
                    .iter()
                    .map(|r| format!("{}: {}", r.phone, if r.on_whatsapp { "on WhatsApp" } else { "not on WhatsApp" }))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(output::success(&NumbersOut { results }, text))
            }
            .await,
        )
    }
}
