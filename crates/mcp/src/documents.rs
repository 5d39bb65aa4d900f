//! The text of a document attachment, page by page: a PDF's pages (pdf-extract, pure Rust), or
//! a plain-text, CSV or Markdown file cut into pages of about [`TEXT_PAGE_BYTES`] on line
//! boundaries, so both are read the same way: a range of pages at a time, within a budget.

/// A text file's page: at most this many bytes, cut at a line break where there is one.
pub const TEXT_PAGE_BYTES: usize = 4_000;

/// What kind of document a file is, by its type or its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    /// Plain text, CSV, Markdown, JSON and the like: read as UTF-8.
    Text,
    /// Anything else: only its name, type and size can be told.
    Other,
}

impl DocumentKind {
    pub fn of(mimetype: Option<&str>, file_name: Option<&str>) -> DocumentKind {
        let mime = mimetype.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let extension = file_name
            .and_then(|name| name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()))
            .unwrap_or_default();
        if mime == "application/pdf" || extension == "pdf" {
            DocumentKind::Pdf
        } else if mime.starts_with("text/")
            || matches!(mime.as_str(), "application/json" | "application/csv")
            || matches!(extension.as_str(), "txt" | "csv" | "md" | "markdown" | "json" | "tsv" | "log")
        {
            DocumentKind::Text
        } else {
            DocumentKind::Other
        }
    }
}

/// The pages of a PDF or a text file; why not, when it cannot be read.
pub fn pages(kind: DocumentKind, bytes: &[u8]) -> Result<Vec<String>, String> {
    match kind {
        DocumentKind::Pdf => pdf_pages(bytes),
        DocumentKind::Text => {
            let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_string())?;
            Ok(text_pages(text))
        }
        DocumentKind::Other => Err("only PDF and text files (plain, CSV, Markdown) can be read".into()),
    }
}

fn pdf_pages(bytes: &[u8]) -> Result<Vec<String>, String> {
    // The extractor panics on some malformed files; a panic is that file's failure, not the server's.
    let extracted = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "the PDF is malformed: its text cannot be extracted".to_string())?;
    let pages = extracted.map_err(|e| match e.to_string() {
        why if why.to_ascii_lowercase().contains("encrypt") => "the PDF is password-protected".to_string(),
        why => format!("the PDF cannot be read: {why}"),
    })?;
    Ok(pages.into_iter().map(|page| tidy(&page)).collect())
}

/// A page's text with runs of blank lines and trailing spaces removed.
fn tidy(page: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in page.lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// `text` in pages of at most [`TEXT_PAGE_BYTES`], cut after a line break where possible.
fn text_pages(text: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(TEXT_PAGE_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end < rest.len()
            && let Some(newline) = rest[..end].rfind('\n')
        {
            end = newline + 1;
        }
        pages.push(rest[..end].trim_end().to_string());
        rest = &rest[end..];
    }
    if pages.is_empty() {
        pages.push(String::new());
    }
    pages
}

/// Which pages to read: `"3"`, `"2-5"`, `"4-"` (to the end), 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub first: usize,
    pub last: Option<usize>,
}

impl PageRange {
    pub const ALL: PageRange = PageRange { first: 1, last: None };

    pub fn parse(text: &str) -> Result<PageRange, String> {
        let bad = || format!("pages: '{text}' is not a page or a range; give 3, 2-5 or 4- (pages count from 1)");
        let number = |s: &str| s.trim().parse::<usize>().ok().filter(|n| *n >= 1);
        let range = match text.split_once('-') {
            None => {
                let page = number(text).ok_or_else(bad)?;
                PageRange { first: page, last: Some(page) }
            }
            Some((first, "")) => PageRange { first: number(first).ok_or_else(bad)?, last: None },
            Some((first, last)) => {
                PageRange { first: number(first).ok_or_else(bad)?, last: Some(number(last).ok_or_else(bad)?) }
            }
        };
        if range.last.is_some_and(|last| last < range.first) {
            return Err(bad());
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_told_by_type_or_name() {
        assert_eq!(DocumentKind::of(Some("application/pdf"), None), DocumentKind::Pdf);
        assert_eq!(DocumentKind::of(None, Some("Report.PDF")), DocumentKind::Pdf);
        assert_eq!(DocumentKind::of(Some("text/csv; charset=utf-8"), None), DocumentKind::Text);
        assert_eq!(DocumentKind::of(Some("application/octet-stream"), Some("notes.md")), DocumentKind::Text);
        assert_eq!(DocumentKind::of(Some("application/vnd.ms-excel"), Some("sheet.xls")), DocumentKind::Other);
    }

    #[test]
    fn text_is_paged_on_line_breaks() {
        let line = "x".repeat(99) + "\n";
        let pages = text_pages(&line.repeat(100));
        assert_eq!(pages.len(), 3);
        assert!(pages.iter().all(|p| p.len() <= TEXT_PAGE_BYTES && !p.ends_with('\n')));
        assert_eq!(pages[0].lines().count(), 40);
    }

    #[test]
    fn page_ranges_are_one_based_and_checked() {
        assert_eq!(PageRange::parse("3"), Ok(PageRange { first: 3, last: Some(3) }));
        assert_eq!(PageRange::parse("2-5"), Ok(PageRange { first: 2, last: Some(5) }));
        assert_eq!(PageRange::parse("4-"), Ok(PageRange { first: 4, last: None }));
        for bad in ["0", "5-2", "a", "-3", ""] {
            assert!(PageRange::parse(bad).unwrap_err().contains("give 3, 2-5 or 4-"), "{bad}");
        }
    }

    #[test]
    fn a_pdf_is_read_page_by_page() {
        let pages = pages(DocumentKind::Pdf, include_bytes!("../../link/src/sim/media/invoice.pdf")).unwrap();
        assert_eq!(pages.len(), 2);
        assert!(pages[0].contains("Invoice 2231 for the Atlas project"), "{pages:?}");
        assert!(pages[1].contains("Total due: 480 euros by Friday"), "{pages:?}");
        assert!(super::pages(DocumentKind::Pdf, b"%PDF-1.4 garbage").is_err());
    }
}
