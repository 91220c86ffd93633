//! Pages of a directory listing.
//!
//! A page is up to 10,000 rows of twelve columns. sqlx's SQLite driver copies
//! every column of every row into its own allocation (`sqlite3_value_dup`)
//! on its worker thread and frees it on another: 120,000 allocations a page,
//! which made the answer to a 10,000-entry `ls` take ~100 ms while SQLite's
//! own work was a fifth of that. On SQLite the page is therefore built inside
//! the query as one JSON array (`json_group_array`, blobs as hex) and crosses
//! as one value; PostgreSQL's driver decodes rows without that cost and
//! keeps the plain query.

use pyxis_proto::hex;

use super::{Db, LIST_SELECT, ListedRow, descendants};

/// One row as the SQLite query encodes it: the columns of [`LIST_SELECT`] in
/// order, blobs as hex.
type JsonRow = (
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The page as one JSON value: each row an array of [`LIST_SELECT`]'s
/// columns. `iif(.. IS NULL ..)` because `hex(NULL)` is `''`, not NULL.
const JSON_PAGE: &str = "SELECT json_group_array(json_array(path, kind, size, mtime, seq, \
     iif(content_hash IS NULL, NULL, hex(content_hash)), committed_at, iif(file_id IS NULL, NULL, hex(file_id)), \
     iif(entry_tag IS NULL, NULL, hex(entry_tag)), version_id, writer, \
     iif(writer_keys IS NULL, NULL, hex(writer_keys))) ORDER BY path) FROM";

fn blob(col: &'static str, h: Option<String>) -> sqlx::Result<Option<Vec<u8>>> {
    h.map(|h| hex::decode(&h).map_err(|e| sqlx::Error::Decode(format!("listing column {col}: {e}").into()))).transpose()
}

fn from_json(json: &str) -> sqlx::Result<Vec<ListedRow>> {
    let rows: Vec<JsonRow> =
        serde_json::from_str(json).map_err(|e| sqlx::Error::Decode(format!("listing page: {e}").into()))?;
    rows.into_iter()
        .map(|(path, kind, size, mtime, seq, hash, committed_at, file_id, tag, version_id, writer, wkeys)| {
            Ok(ListedRow {
                path,
                kind,
                size,
                mtime,
                seq,
                content_hash: blob("content_hash", hash)?,
                committed_at,
                file_id: blob("file_id", file_id)?,
                entry_tag: blob("entry_tag", tag)?,
                version_id,
                writer,
                writer_keys: blob("writer_keys", wkeys)?,
            })
        })
        .collect()
}

impl Db {
    /// Children of `dir` (or all descendants), in path order, after `after`.
    pub async fn list(
        &self,
        user: i64,
        dir: &str,
        recursive: bool,
        after: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<ListedRow>> {
        let (lo, hi) = descendants(dir);
        let lower = if after > lo.as_str() { after.to_owned() } else { lo };
        // $2 is the lower bound; $3 the upper bound or the parent.
        let (upper, filter) = if recursive {
            (hi, "e.path > $2 AND e.path < $3")
        } else {
            (dir.to_owned(), "e.parent = $3 AND e.path > $2")
        };
        let rows = format!("{LIST_SELECT} WHERE e.user_id = $1 AND {filter} ORDER BY e.path LIMIT $4");
        match self {
            Db::Sqlite { read, .. } => {
                let sql = sqlx::AssertSqlSafe(format!("{JSON_PAGE} ({rows})"));
                let json: String =
                    sqlx::query_scalar(sql).bind(user).bind(&lower).bind(&upper).bind(limit).fetch_one(read).await?;
                from_json(&json)
            }
            Db::Postgres(c) => {
                let sql = sqlx::AssertSqlSafe(rows);
                sqlx::query_as(sql).bind(user).bind(&lower).bind(&upper).bind(limit).fetch_all(c).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_decodes_nulls_and_hex_and_refuses_bad_hex() {
        let json = r#"[["/a",2,5,7,1,"00FF",9,"AB","cd",3,null,null],["/d",1,null,null,null,null,null,null,null,null,null,null]]"#;
        let rows = from_json(json).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].content_hash.as_deref(), Some(&[0, 255][..]));
        assert_eq!(rows[0].entry_tag.as_deref(), Some(&[0xcd][..]));
        assert_eq!((rows[0].size, rows[0].version_id, rows[0].writer_keys.as_deref()), (Some(5), Some(3), None));
        assert_eq!((rows[1].path.as_str(), rows[1].kind, rows[1].content_hash.as_deref()), ("/d", 1, None));
        let bad = r#"[["/a",2,5,7,1,"0G",9,null,null,3,null,null]]"#;
        assert!(from_json(bad).unwrap_err().to_string().contains("content_hash"));
        assert!(from_json("[[1]]").is_err());
    }
    /// Pages through a real SQLite catalog: one level and recursive, with
    /// the cursor, in path order, nothing repeated or skipped.
    #[tokio::test]
    async fn pages_follow_the_cursor_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(None, dir.path()).await.unwrap();
        let user = crate::db::users::NewUser {
            username: "u",
            kdf_salt: b"salt",
            kdf: (1, 1, 1),
            login_hash: "h",
            wrapped_master_key: b"k",
            reader_public_key: b"p",
            quota_bytes: 1,
        };
        let user = db.create_user(&user).await.unwrap().unwrap();
        for p in ["/d/b", "/d/a", "/d/c/x", "/d/c/y", "/d2", "/d/\u{e9}t\u{e9} \"q\""] {
            db.mkdir(user, p, true).await.unwrap();
        }
        let page = |after: &'static str, recursive: bool, limit: i64| {
            let db = db.clone();
            async move {
                let rows = db.list(user, "/d", recursive, after, limit).await.unwrap();
                rows.into_iter().map(|r| (r.path, r.kind, r.content_hash)).collect::<Vec<_>>()
            }
        };
        let dir = |p: &str| (p.to_owned(), super::super::DIR, None);
        assert_eq!(page("", false, 2).await, vec![dir("/d/a"), dir("/d/b")]);
        assert_eq!(page("/d/b", false, 2).await, vec![dir("/d/c"), dir("/d/\u{e9}t\u{e9} \"q\"")]);
        assert_eq!(page("/d/\u{e9}t\u{e9} \"q\"", false, 2).await, vec![]);
        assert_eq!(page("/d/b", true, 3).await, vec![dir("/d/c"), dir("/d/c/x"), dir("/d/c/y")]);
        assert_eq!(page("", true, 100).await.len(), 6, "/d2 is not under /d");
    }
}
