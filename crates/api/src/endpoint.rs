//! What ties a request to its answer, and the two enums that carry any request and any answer
//! through one seam (a transport handles `Request`s; callers see the typed pair).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::answers::{DaemonStatus, Done, Downloaded, Forgotten, GroupInfo, NumbersChecked, Queued, Transcribed};
use crate::requests::{
    Delete, Download, Edit, Forget, GetGroup, GetStatus, IsOnWhatsApp, MarkRead, React, RequestHistory, SendMessage,
    Transcribe, Typing,
};

/// The HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Looks only; the request travels in the path.
    Get,
    /// The request is the JSON body.
    Post,
}

/// One endpoint of the daemon: its request type (`Self`), where it is served, and its answer.
pub trait Endpoint: Serialize + DeserializeOwned + Clone + std::fmt::Debug + Into<Request> + Send + 'static {
    const METHOD: Method;
    /// The route, as the router declares it (`{name}` for a path parameter).
    const PATH: &'static str;
    type Answer: Serialize + DeserializeOwned + std::fmt::Debug + Send + 'static;

    /// This request's answer, out of the enum a transport carries (`None` if it is another's).
    fn answer_of(answer: Answer) -> Option<Self::Answer>;
}

macro_rules! endpoints {
    ($($name:ident: $method:ident $path:literal => $answer:ident,)*) => {
        /// Any request, as a transport carries it.
        #[derive(Debug, Clone)]
        pub enum Request { $($name($name),)* }

        /// Any answer, in the variant of the request it answers.
        #[derive(Debug)]
        pub enum Answer { $($name($answer),)* }

        $(
            impl From<$name> for Request {
                fn from(request: $name) -> Request {
                    Request::$name(request)
                }
            }

            impl Endpoint for $name {
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                type Answer = $answer;

                fn answer_of(answer: Answer) -> Option<$answer> {
                    match answer {
                        Answer::$name(answer) => Some(answer),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )*

        impl Request {
            /// How this request goes over HTTP.
            pub fn method(&self) -> Method {
                match self { $(Request::$name(_) => Method::$method,)* }
            }

            /// The JSON body of a POST (`None` for a GET, whose request is in the path).
            pub fn body(&self) -> Option<String> {
                match self {
                    $(Request::$name(request) => match Method::$method {
                        Method::Post => Some(serde_json::to_string(request).expect("requests serialize")),
                        Method::Get => None,
                    },)*
                }
            }

            /// Reads a successful HTTP answer to this request.
            pub fn read_answer(&self, body: &[u8]) -> Result<Answer, serde_json::Error> {
                match self { $(Request::$name(_) => serde_json::from_slice(body).map(Answer::$name),)* }
            }
        }
    };
}

endpoints! {
    SendMessage: Post "/api/send" => Queued,
    React: Post "/api/react" => Queued,
    Edit: Post "/api/edit" => Queued,
    Delete: Post "/api/delete" => Queued,
    MarkRead: Post "/api/read" => Done,
    Typing: Post "/api/typing" => Done,
    RequestHistory: Post "/api/history" => Done,
    Download: Post "/api/download" => Downloaded,
    IsOnWhatsApp: Post "/api/is-on-whatsapp" => NumbersChecked,
    Forget: Post "/api/forget" => Forgotten,
    Transcribe: Post "/api/transcribe" => Transcribed,
    GetStatus: Get "/api/status" => DaemonStatus,
    GetGroup: Get "/api/groups/{jid}" => GroupInfo,
}

impl Request {
    /// The path this request is sent to, its parameters filled in.
    pub fn path(&self) -> String {
        match self {
            Request::SendMessage(_) => SendMessage::PATH.into(),
            Request::React(_) => React::PATH.into(),
            Request::Edit(_) => Edit::PATH.into(),
            Request::Delete(_) => Delete::PATH.into(),
            Request::MarkRead(_) => MarkRead::PATH.into(),
            Request::Typing(_) => Typing::PATH.into(),
            Request::RequestHistory(_) => RequestHistory::PATH.into(),
            Request::Download(_) => Download::PATH.into(),
            Request::IsOnWhatsApp(_) => IsOnWhatsApp::PATH.into(),
            Request::Forget(_) => Forget::PATH.into(),
            Request::Transcribe(_) => Transcribe::PATH.into(),
            Request::GetStatus(_) => GetStatus::PATH.into(),
            Request::GetGroup(group) => GetGroup::PATH.replace("{jid}", &group.jid),
        }
    }
}
