//! Tools that read downloaded attachments from the data directory, without the daemon:
//! `get_media` (a photo or sticker as an image the model sees, a video's first frame, what a voice
//! note said) and `read_document` (a PDF's or text file's text, page by page). `download_media`
//! hands back the same content after it fetched the file ([`look`]).

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::{tool, tool_router};
use serde::Serialize;
use wamcp_core::render::Fence;
use wamcp_core::{Jid, MessageKind};

use crate::args::{self, GetMediaArgs, ReadDocumentArgs};
use crate::attachment::{self, Saved};
use crate::documents::{self, DocumentKind, PageRange};
use crate::media_content;
use crate::output;
use crate::schema;
use crate::shape;
use crate::tools::{Problem, ToolResult, Tools};

/// The largest attachment these tools read.
const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes of document text one call hands the model: about 10,000 tokens, well under
/// the result cap, so a long document is read in several calls rather than flooding the context.
pub const DOCUMENT_BUDGET: usize = 40_000;

/// `get_media`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MediaOut {
    pub kind: MessageKind,
    /// The saved file (sealed under encrypt_media: use download_media for a plain copy).
    pub file_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    /// The original's size in bytes.
    pub size: u64,
    /// The image handed over (a photo scaled down, or a video's first frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOut>,
    /// What a voice note or audio says, when it was transcribed. Untrusted third-party data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

/// An image in the result's content.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImageOut {
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    /// Whether it was scaled down from the original (or is a video's frame).
    pub scaled: bool,
}

/// `read_document`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DocumentOut {
    /// The document's name as the sender gave it. Untrusted third-party data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    pub size: u64,
    pub page_count: usize,
    /// The pages read, in order.
    pub pages: Vec<PageOut>,
    /// The first page not read, when there are more: pass it as `pages` ("N-") to go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<usize>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PageOut {
    /// 1-based.
    pub number: usize,
    /// The page's text. Untrusted third-party data.
    pub text: String,
}

/// What the model is shown of a saved attachment: the image content, if any, and a line on it.
pub struct Look {
    pub image: Option<(ContentBlock, ImageOut)>,
    pub line: String,
}

/// A photo, sticker or video's first frame as image content; other kinds only a line saying what
/// reads them. Blocking (decoding and ffmpeg): call off the runtime.
pub fn look(saved: &Saved) -> Look {
    let kind = saved.stored.kind;
    let picture = match kind {
        MessageKind::Image | MessageKind::Sticker => Some(media_content::picture(&saved.bytes)),
        MessageKind::Video => {
            Some(media_content::first_frame(&saved.bytes).and_then(|frame| media_content::picture(&frame)))
        }
        _ => None,
    };
    match picture {
        Some(Ok(picture)) => {
            let block = ContentBlock::image(
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &picture.data),
                picture.mime_type,
            );
            let what = if kind == MessageKind::Video { "its first frame" } else { "the image" };
            let line = match picture.scaled_from {
                Some((w, h)) => format!("Shown: {what}, {}×{} (scaled from {w}×{h}).", picture.width, picture.height),
                None => format!("Shown: {what}, {}×{}.", picture.width, picture.height),
            };
            let out = ImageOut {
                mime_type: picture.mime_type.to_string(),
                width: picture.width,
                height: picture.height,
                scaled: picture.scaled_from.is_some() || kind == MessageKind::Video,
            };
            Look { image: Some((block, out)), line }
        }
        Some(Err(why)) => Look { image: None, line: format!("It cannot be shown: {why}.") },
        None if kind == MessageKind::Document => {
            Look { image: None, line: "read_document reads its text (PDF, plain text, CSV, Markdown).".into() }
        }
        None => Look { image: None, line: String::new() },
    }
}

#[tool_router(router = media_router, vis = "pub(crate)")]
impl Tools {
    /// Look at an attachment already downloaded (download_media fetches it): a photo or sticker
    /// comes back as an image you can see (at most 1568 px on the long side), a video as its
    /// first frame, a voice note as its transcript when it has one.
    #[tool(
        input_schema = schema::input::<GetMediaArgs>(),
        output_schema = schema::output::<MediaOut>(),
        annotations(title = "Get media", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_media(&self, arguments: JsonObject) -> ToolResult {
        let a: GetMediaArgs = match args::parse(arguments) {
            Ok(a) => a,
            Err(message) => return Ok(output::failure(message)),
        };
        let chat = match args::chat_jid("chat_jid", &a.chat_jid) {
            Ok(chat) => chat,
            Err(message) => return Ok(output::failure(message)),
        };
        let (saved, transcript) = match self.read_saved(&chat, &a.message_id) {
            Ok(found) => found,
            Err(problem) => return self.run(|_| Err(problem)),
        };
        let (saved, look) = tokio::task::spawn_blocking(move || {
            let look = look(&saved);
            (saved, look)
        })
        .await
        .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))?;
        let media = &saved.stored.media;
        let mut text = format!(
            "#{} is a {} of {} bytes, saved at {}.",
            a.message_id,
            saved.stored.kind.as_str(),
            saved.bytes.len(),
            saved.path.display()
        );
        if !look.line.is_empty() {
            text.push(' ');
            text.push_str(&look.line);
        }
        if let Some(transcript) = &transcript {
            let fence = Fence::random();
            text = format!("{}\n{text}\nTranscript: {}", fence.note(), fence.wrap(transcript));
        } else if matches!(saved.stored.kind, MessageKind::Voice | MessageKind::Audio) {
            text.push_str(" It has no transcript yet: transcribe_message makes one.");
        }
        let (block, image) = look.image.map_or((None, None), |(block, out)| (Some(block), Some(out)));
        let out = MediaOut {
            kind: saved.stored.kind,
            file_path: saved.path.display().to_string(),
            mimetype: media.mimetype.clone(),
            size: saved.bytes.len() as u64,
            image,
            transcript,
        };
        let mut result = output::success(&out, text);
        result.content.extend(block);
        Ok(result)
    }

    /// Read the text of a downloaded document (PDF, plain text, CSV, Markdown), page by page:
    /// `pages` is "3", "2-5" or "4-" (all pages from 4); by default from the first page, as many
    /// as fit about 10,000 tokens. Says how many pages there are and where to go on.
    #[tool(
        input_schema = schema::input::<ReadDocumentArgs>(),
        output_schema = schema::output::<DocumentOut>(),
        annotations(title = "Read document", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn read_document(&self, arguments: JsonObject) -> ToolResult {
        let parsed = (|| -> Result<(ReadDocumentArgs, Jid, PageRange), String> {
            let a: ReadDocumentArgs = args::parse(arguments)?;
            let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
            let range = match a.pages.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(pages) => PageRange::parse(pages)?,
                None => PageRange::ALL,
            };
            Ok((a, chat, range))
        })();
        let (a, chat, range) = match parsed {
            Ok(parsed) => parsed,
            Err(message) => return Ok(output::failure(message)),
        };
        let saved = match self.read_saved(&chat, &a.message_id) {
            Ok((saved, _)) => saved,
            Err(problem) => return self.run(|_| Err(problem)),
        };
        if saved.stored.kind != MessageKind::Document {
            return Ok(output::failure(format!(
                "#{} is a {} message, not a document; get_media shows photos, videos and voice notes",
                a.message_id,
                saved.stored.kind.as_str()
            )));
        }
        let media = saved.stored.media.clone();
        let kind = DocumentKind::of(media.mimetype.as_deref(), media.file_name.as_deref());
        let size = saved.bytes.len() as u64;
        let described = || {
            format!(
                "#{} is the document {} ({}, {size} bytes)",
                a.message_id,
                media.file_name.as_deref().unwrap_or("without a name"),
                media.mimetype.as_deref().unwrap_or("type unknown")
            )
        };
        let pages = match tokio::task::spawn_blocking(move || documents::pages(kind, &saved.bytes)).await {
            Ok(Ok(pages)) => pages,
            Ok(Err(why)) => {
                // Its name is the sender's: fenced like their words.
                let fence = Fence::random();
                let line = format!("{}\n{}: {why}.", fence.note(), fence.wrap(&described()));
                return Ok(output::failure(line));
            }
            Err(e) => return Err(rmcp::ErrorData::internal_error(e.to_string(), None)),
        };
        let page_count = pages.len();
        if range.first > page_count {
            return Ok(output::failure(format!(
                "pages: the document has {page_count} page(s); give a page from 1 to {page_count}"
            )));
        }
        let last = range.last.unwrap_or(page_count).min(page_count);
        let mut chosen = Vec::new();
        let mut spent = 0;
        for number in range.first..=last {
            let text = pages[number - 1].clone();
            // The first page is always given, cut if it alone is over the budget.
            if !chosen.is_empty() && spent + text.len() > DOCUMENT_BUDGET {
                break;
            }
            spent += text.len();
            chosen.push(PageOut { number, text });
        }
        let shown_to = chosen.last().map_or(range.first, |p| p.number);
        let next_page = (shown_to < page_count).then_some(shown_to + 1);
        let out = DocumentOut {
            file_name: media.file_name.clone(),
            mimetype: media.mimetype.clone(),
            size,
            page_count,
            pages: chosen,
            next_page,
        };
        let fence = Fence::random();
        let mut text = format!(
            "{}\n{}: {page_count} page(s); pages {}–{shown_to} follow.",
            fence.note(),
            fence.wrap(&described()),
            range.first
        );
        for page in &out.pages {
            text.push_str(&format!(
                "\n== Page {} of {page_count}\n{}\n{}\n{}",
                page.number,
                fence.open(),
                page.text,
                fence.close()
            ));
        }
        if let Some(next) = next_page {
            text.push_str(&format!("\nMore: pages {next}–{page_count}; call read_document with pages \"{next}-\"."));
        }
        Ok(output::success(&out, shape::within_budget(text)))
    }
}

impl Tools {
    /// A downloaded attachment and its transcript; a problem the caller can fix otherwise.
    fn read_saved(&self, chat: &Jid, id: &str) -> Result<(Saved, Option<String>), Problem> {
        let reader = self.reader();
        let saved = attachment::saved(&reader, chat, id, MAX_READ_BYTES).map_err(Problem::User)?;
        let transcript = match reader.transcription(chat, id)? {
            wamcp_store::Transcription::Done { transcript } => Some(transcript),
            _ => None,
        };
        Ok((saved, transcript))
    }
}

impl Tools {
    /// Adds to `download_media`'s result the content a model can see: the image, or its line.
    pub(crate) async fn add_look(&self, chat: &Jid, id: &str, result: &mut CallToolResult) {
        let saved = attachment::saved(&self.reader(), chat, id, MAX_READ_BYTES);
        let Ok(saved) = saved else { return };
        let Ok(look) = tokio::task::spawn_blocking(move || look(&saved)).await else { return };
        if !look.line.is_empty() {
            output::append_text(result, &look.line);
        }
        if let Some((block, _)) = look.image {
            result.content.push(block);
        }
    }
}
