//! The desk's database: a SQLite file by default, PostgreSQL when several desk workers share one.
//! Both are reached through one sqlx `Any` pool so every query is written once; the few places
//! where the two differ (schema, knowledge-base search, locking) ask [`Db::backend`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor, Transaction};
use wamcp_core::at_rest::{self, DbKey};

use crate::DeskError;

/// The schema version this build writes; a database from a newer build is refused.
/// The schema's changes after the first, in order: the one at index n brings version n + 1 to
/// n + 2. Each is statements separated by blank lines, for SQLite and for PostgreSQL.
const MIGRATIONS: [(&str, &str); 6] = [
    (include_str!("migrations/2-message-seq.sqlite.sql"), include_str!("migrations/2-message-seq.postgres.sql")),
    (include_str!("migrations/3-inbox-sessions.sqlite.sql"), include_str!("migrations/3-inbox-sessions.postgres.sql")),
    (
        include_str!("migrations/4-identity-claims.sqlite.sql"),
        include_str!("migrations/4-identity-claims.postgres.sql"),
    ),
    (
        include_str!("migrations/5-delivery-attempts.sqlite.sql"),
        include_str!("migrations/5-delivery-attempts.postgres.sql"),
    ),
    (include_str!("migrations/6-bridges.sqlite.sql"), include_str!("migrations/6-bridges.postgres.sql")),
    (include_str!("migrations/7-wordless.sqlite.sql"), include_str!("migrations/7-wordless.postgres.sql")),
];

const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to the desk's database.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A write transaction: everything in it is committed together or not at all.
pub type Tx = Transaction<'static, sqlx::Any>;

impl Db {
    /// Opens (creating if needed) the SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Db, DeskError> {
        Db::open(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Opens a database by URL: `sqlite://PATH` or `postgres://USER@HOST/DB`, and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Db, DeskError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DeskError::Config(format!(
                "database URL '{}' is not supported: use sqlite://PATH or postgres://USER@HOST/DB",
                redact(url)
            )));
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| DeskError::Config(format!("database URL '{}': {e}", redact(url))))?;
        let key = match backend {
            Backend::Sqlite => sqlite_key(url).await?,
            Backend::Postgres => None,
        };
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time; connections that wait for its lock sleep in its
            // busy handler (up to 100 ms a try), which costs far more than queueing for the one
            // connection here. Nothing holds a transaction while it waits for another connection.
            .max_connections(if backend == Backend::Sqlite { 1 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if let Some(key) = key {
                        // The key comes first: sqlx's own pragma at connect (foreign_keys) reads
                        // nothing from the file. A wrong key was refused before the pool was made.
                        connection.execute("PRAGMA cipher_log_level = NONE").await?;
                        connection.execute(AssertSqlSafe(key.pragma())).await?;
                    }
                    if backend == Backend::Sqlite {
                        // WAL: readers never wait for the writer; NORMAL keeps every commit through
                        // a process crash (kill -9), which is what acknowledgements promise.
                        connection.execute("PRAGMA journal_mode = WAL").await?;
                        connection.execute("PRAGMA synchronous = NORMAL").await?;
                        connection.execute("PRAGMA foreign_keys = ON").await?;
                        connection.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| DeskError::Config(format!("cannot open the desk database '{}': {e}", redact(url))))?;
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so two writers queue instead of failing when one upgrades a read to a write.
    pub async fn write(&self) -> Result<Tx, DeskError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// A value kept in `desk_meta` (a poller's watermark, say).
    pub async fn meta(&self, key: &str) -> Result<Option<String>, DeskError> {
        Ok(sqlx::query_scalar("SELECT value FROM desk_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Sets a value in `desk_meta`, committed when this returns.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), DeskError> {
        sqlx::query(
            "INSERT INTO desk_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), DeskError> {
        let mut tx = self.write().await?;
        tx.execute("CREATE TABLE IF NOT EXISTS desk_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").await?;
        let version: Option<String> = sqlx::query_scalar("SELECT value FROM desk_meta WHERE key = 'schema_version'")
            .fetch_optional(&mut *tx)
            .await?;
        let version: i64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(DeskError::Config(format!(
                "the desk database has schema version {version}, newer than this wamcp understands ({SCHEMA_VERSION}); \
                 use a newer wamcp"
            )));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version == 0 {
            let schema = match self.backend {
                Backend::Sqlite => include_str!("sqlite.sql"),
                Backend::Postgres => include_str!("postgres.sql"),
            };
            run_statements(&mut tx, schema).await?;
        }
        for (sqlite, postgres) in &MIGRATIONS[(version.max(1) - 1) as usize..] {
            run_statements(&mut tx, if self.backend == Backend::Sqlite { sqlite } else { postgres }).await?;
        }
        sqlx::query(
            "INSERT INTO desk_meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SCHEMA_VERSION.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Runs a schema file: statements separated by blank lines (triggers hold semicolons of their
/// own); `--` comment lines are dropped.
async fn run_statements(tx: &mut Tx, script: &str) -> Result<(), DeskError> {
    for statement in script.split("\n\n") {
        let statement: String =
            statement.lines().filter(|line| !line.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
        if !statement.trim().is_empty() {
            tx.execute(sqlx::AssertSqlSafe(statement)).await?;
        }
    }
    Ok(())
}

/// A database URL without its password, for messages and printed settings.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The key for the SQLite file a `sqlite:` URL names, proved to open it: this process's key
/// ([`at_rest`]) when it has one, `None` for a plain file.
async fn sqlite_key(url: &str) -> Result<Option<&'static DbKey>, DeskError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| DeskError::Config(format!("database URL '{}': {e}", redact(url))))?;
    let path = options.get_filename();
    let Some(key) = at_rest::key_for(path).map_err(|e| DeskError::Config(e.to_string()))? else { return Ok(None) };
    if path.is_file() {
        let proved = async {
            let mut connection = SqliteConnection::connect_with(&options).await?;
            connection.execute("PRAGMA cipher_log_level = NONE").await?;
            connection.execute(AssertSqlSafe(key.pragma())).await?;
            connection.execute("SELECT count(*) FROM sqlite_master").await?;
            connection.close().await
        };
        if proved.await.is_err() {
            return Err(DeskError::Config(at_rest::wrong_key(path).to_string()));
        }
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://desk:s3cret@db/desk"), "postgres://desk:***@db/desk");
        assert_eq!(redact("postgres://desk@db/desk"), "postgres://desk@db/desk");
    }

    #[tokio::test]
    async fn an_unknown_database_kind_is_refused_with_the_accepted_forms() {
        let Err(error) = Db::open("mysql://x@y/z").await else { panic!("mysql accepted") };
        let text = error.to_string();
        assert!(text.contains("sqlite://PATH") && text.contains("postgres://"), "{text}");
    }

    #[tokio::test]
    async fn reopening_keeps_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let db = Db::open_sqlite(&path).await.unwrap();
        sqlx::query("INSERT INTO customers (id, name, created_at) VALUES ('c1', 'Ann', 1)")
            .execute(db.pool())
            .await
            .unwrap();
        drop(db);
        let db = Db::open_sqlite(&path).await.unwrap();
        let name: String = sqlx::query_scalar("SELECT name FROM customers").fetch_one(db.pool()).await.unwrap();
        assert_eq!(name, "Ann");
    }
}
