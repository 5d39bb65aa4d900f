//! The desk's vocabulary: channels, ticket states and priorities, who wrote a message, and the
//! identifiers a customer is known by. Each is stored as the lower-case word `as_str` gives.

use serde::Serialize;

/// Where a customer wrote from, and where the answer goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Whatsapp,
    Email,
    WebForm,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Email => "email",
            Channel::WebForm => "web_form",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        [Channel::Whatsapp, Channel::Email, Channel::WebForm].into_iter().find(|c| c.as_str() == text)
    }

    pub const ALL: [Channel; 3] = [Channel::Whatsapp, Channel::Email, Channel::WebForm];
}

/// How a message reached the desk (and so how its answer leaves): the bridge's own WhatsApp link,
/// Twilio's WhatsApp API, a lharries bridge database, or a plain webhook / form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bridge,
    Twilio,
    Lharries,
    Webhook,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Bridge => "bridge",
            Via::Twilio => "twilio",
            Via::Lharries => "lharries",
            Via::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Via {
        match text {
            "twilio" => Via::Twilio,
            "lharries" => Via::Lharries,
            "webhook" => Via::Webhook,
            _ => Via::Bridge,
        }
    }
}

/// A ticket's state: `open` waits for the agent or a person, `waiting` for the customer,
/// `escalated` for a person (the agent stays silent), `resolved` is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Waiting,
    Escalated,
    Resolved,
}

impl TicketStatus {
    /// In the order a person works them.
    pub const ALL: [TicketStatus; 4] =
        [TicketStatus::Escalated, TicketStatus::Open, TicketStatus::Waiting, TicketStatus::Resolved];

    /// The status as stored (`waiting`), if it is one.
    pub fn parse(name: &str) -> Option<TicketStatus> {
        TicketStatus::ALL.into_iter().find(|status| status.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Waiting => "waiting",
            TicketStatus::Escalated => "escalated",
            TicketStatus::Resolved => "resolved",
        }
    }
}

/// Where an inbound message stands with the agent: `pending` waits for it, `working` is claimed by
/// a worker, `held` waits for the person who has the ticket, `done` needs nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Pending,
    Working,
    Held,
    Done,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Pending => "pending",
            AgentState::Working => "working",
            AgentState::Held => "held",
            AgentState::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    /// The priority as stored (`high`), if it is one.
    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|priority| priority.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// A kind of identifier a customer is known by; each (kind, value) belongs to one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// E.164, with `+`.
    Phone,
    /// Lower case.
    Email,
    /// A whole WhatsApp JID (a phone JID or a LID).
    Whatsapp,
}

impl IdentifierKind {
    pub const ALL: [IdentifierKind; 3] = [IdentifierKind::Phone, IdentifierKind::Email, IdentifierKind::Whatsapp];

    /// The kind as stored (`email`), if it is one.
    pub fn parse(name: &str) -> Option<IdentifierKind> {
        IdentifierKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Phone => "phone",
            IdentifierKind::Email => "email",
            IdentifierKind::Whatsapp => "whatsapp",
        }
    }
}

/// Where a message stands with its channel. Inbound messages are `received`; answers go
/// `queued` → `sent` (handed to the channel) → `delivered` → `read`, or end `failed`; a Twilio
/// answer outside WhatsApp's 24-hour window waits as `window_closed` until the customer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Received,
    WindowClosed,
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 7] = [
        DeliveryStatus::Received,
        DeliveryStatus::WindowClosed,
        DeliveryStatus::Queued,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Received => "received",
            DeliveryStatus::WindowClosed => "window_closed",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Customer,
    /// The answering agent.
    Agent,
    /// A person at the desk.
    Human,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Agent => "agent",
            Author::Human => "human",
        }
    }
}

/// A new random id with a readable prefix: `tkt_…`, `cus_…`. Time first, so ids sort by creation.
pub fn new_id(prefix: &str) -> String {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    let millis = wamcp_core::Timestamp::now().millis();
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{millis:011x}{random}")
}
