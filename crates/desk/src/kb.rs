//! The knowledge base: articles from a folder of Markdown files, searched by relevance (SQLite
//! FTS5 with BM25; PostgreSQL full-text search with `ts_rank`). The agent answers from the best
//! article, and counts a search without any as a miss.

use std::path::Path;

use sqlx::Row;
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::{Backend, Db};
use crate::language::Lang;

/// An article as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub body: String,
    /// Higher is more relevant.
    pub score: f64,
}

/// What `import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Imported {
    pub added: usize,
    pub updated: usize,
}

/// Words too common to say what a question is about.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for", "from",
    "get", "have", "hello", "hi", "how", "i", "if", "in", "is", "it", "me", "my", "need", "of", "on", "or", "please",
    "so", "that", "the", "there", "this", "to", "up", "want", "was", "we", "what", "when", "where", "which", "who",
    "why", "will", "with", "would", "you", "your",
];

/// The articles of a folder, read whole before anything is stored: (slug, title, body) each.
#[derive(Debug, Clone)]
pub struct Folder(Vec<(String, String, String)>);

/// Imports every `*.md` file of `dir` (not recursive). The slug is the file name without `.md`;
/// the title is the first `# ` heading, or the slug. An article with a known slug is replaced.
pub async fn import(db: &Db, dir: &Path) -> Result<Imported, DeskError> {
    store(db, read_folder(dir)?).await
}

/// Reads the articles of `dir` (see [`import`]), touching no database: a folder that cannot be
/// read is refused before a desk is opened, let alone created.
pub fn read_folder(dir: &Path) -> Result<Folder, DeskError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| DeskError::BadInput(format!("cannot read the folder '{}': {e}", dir.display())))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("md")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DeskError::BadInput(format!(
            "'{}' has no Markdown files (*.md); give a folder with one article per file",
            dir.display()
        )));
    }
    let mut articles = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DeskError::BadInput(format!("cannot read '{}' as UTF-8 text: {e}", path.display())))?;
        let slug = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        articles.push(parse_article(&slug, &text));
    }
    Ok(Folder(articles))
}

/// Stores a folder's articles, all or nothing.
pub async fn store(db: &Db, folder: Folder) -> Result<Imported, DeskError> {
    let mut tx = db.write().await?;
    let mut imported = Imported::default();
    let now = Timestamp::now().millis();
    for (slug, title, body) in folder.0 {
        let updated = sqlx::query("UPDATE kb_articles SET title = $1, body = $2, updated_at = $3 WHERE slug = $4")
            .bind(&title)
            .bind(&body)
            .bind(now)
            .bind(&slug)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() > 0 {
            imported.updated += 1;
        } else {
            sqlx::query("INSERT INTO kb_articles (slug, title, body, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(&slug)
                .bind(&title)
                .bind(&body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            imported.added += 1;
        }
    }
    tx.commit().await?;
    Ok(imported)
}

/// (slug, title, body) of a Markdown file: the first `# ` heading is the title and is left out of
/// the body.
fn parse_article(slug: &str, text: &str) -> (String, String, String) {
    let mut title = None;
    let mut body = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("# ") {
            Some(heading) if title.is_none() => title = Some(heading.trim().to_string()),
            _ => body.push(line),
        }
    }
    let title = title.unwrap_or_else(|| slug.replace(['-', '_'], " "));
    (slug.to_string(), title, body.join("\n").trim().to_string())
}

/// The words of `text` that say what it is about: lower case, letters and digits only, no
/// stopwords, each once.
pub fn keywords(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() > 1) {
        let word = word.to_lowercase();
        if !STOPWORDS.contains(&word.as_str()) && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// The `limit` articles most relevant to `text`, best first; empty when no keyword matches.
/// The knowledge base's language, told from its articles (English when there are none, or it
/// cannot be told).
pub async fn language(db: &Db) -> Result<Lang, DeskError> {
    let texts: Vec<String> = sqlx::query_scalar("SELECT title || '. ' || body FROM kb_articles ORDER BY id LIMIT 20")
        .fetch_all(db.pool())
        .await?;
    let sample: String = texts.join("\n").chars().take(4000).collect();
    Ok(crate::language::detect(&sample).unwrap_or(Lang::English))
}

pub async fn search(db: &Db, text: &str, limit: i64) -> Result<Vec<Article>, DeskError> {
    let words = keywords(text);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let rows = match db.backend() {
        Backend::Sqlite => {
            let query = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR ");
            // bm25 is lower for better matches; titles weigh five times the body.
            sqlx::query(
                "SELECT a.slug, a.title, a.body, -bm25(kb_fts, 5.0, 1.0) AS score FROM kb_fts \
                 JOIN kb_articles a ON a.id = kb_fts.rowid WHERE kb_fts MATCH $1 ORDER BY score DESC LIMIT $2",
            )
            .bind(query)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        Backend::Postgres => {
            let query = words.join(" | ");
            sqlx::query(
                "SELECT slug, title, body, ts_rank(search, q)::float8 AS score FROM kb_articles, \
                 to_tsquery('english', $1) q WHERE search @@ q ORDER BY score DESC LIMIT $2",
            )
            .bind(query)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
    };
    rows.into_iter()
        .map(|row| {
            Ok(Article { slug: row.try_get(0)?, title: row.try_get(1)?, body: row.try_get(2)?, score: row.try_get(3)? })
        })
        .collect()
}

/// How many articles there are.
pub async fn count(db: &Db) -> Result<i64, DeskError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM kb_articles").fetch_one(db.pool()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_drop_filler_and_repeats() {
        assert_eq!(keywords("Hi, how do I get a REFUND for my refund?"), vec!["refund"]);
        assert_eq!(keywords("Wi-Fi password"), vec!["wi", "fi", "password"]);
    }

    #[test]
    fn the_first_heading_is_the_title() {
        let (slug, title, body) = parse_article("shipping", "# Shipping times\n\nOrders ship in 2 days.\n# Later\n");
        assert_eq!((slug.as_str(), title.as_str()), ("shipping", "Shipping times"));
        assert_eq!(body, "Orders ship in 2 days.\n# Later");
        assert_eq!(parse_article("opening-hours", "We open at 9.").1, "opening hours");
    }

    #[tokio::test]
    async fn articles_are_found_by_relevance_and_reimport_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("desk.db")).await.unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        std::fs::write(kb.join("shipping.md"), "# Shipping\nOrders ship within two days by courier.").unwrap();
        std::fs::write(kb.join("returns.md"), "# Returns\nReturn any item within 30 days; shipping is free.").unwrap();
        std::fs::write(kb.join("notes.txt"), "not an article").unwrap();
        assert_eq!(import(&db, &kb).await.unwrap(), Imported { added: 2, updated: 0 });

        let found = search(&db, "When will my order ship?", 5).await.unwrap();
        assert_eq!(found.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), vec!["shipping", "returns"]);
        assert!(found[0].score > found[1].score);
        assert!(search(&db, "do you sell bicycles", 5).await.unwrap().is_empty());

        std::fs::write(kb.join("returns.md"), "# Returns\nBicycles can be returned within 14 days.").unwrap();
        assert_eq!(import(&db, &kb).await.unwrap(), Imported { added: 0, updated: 2 });
        assert_eq!(count(&db).await.unwrap(), 2);
        assert_eq!(search(&db, "bicycles", 5).await.unwrap()[0].slug, "returns");
    }

    #[tokio::test]
    async fn a_folder_without_articles_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("desk.db")).await.unwrap();
        let error = import(&db, dir.path()).await.unwrap_err().to_string();
        assert!(error.contains("no Markdown files"), "{error}");
        let error = import(&db, &dir.path().join("missing")).await.unwrap_err().to_string();
        assert!(error.contains("cannot read the folder"), "{error}");
    }
}
