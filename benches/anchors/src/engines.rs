//! LMDB, redb and SQLite behind [`Engine`].

use std::path::Path;

use heed::types::Bytes;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Engine, Shared};

/// LMDB through `heed`, with its default (durable) flags and a 64 GiB map.
pub struct Lmdb {
    env: heed::Env,
    db: heed::Database<Bytes, Bytes>,
}

impl Lmdb {
    fn at(dir: &Path) -> Lmdb {
        // SAFETY: the bench opens each directory once per process and never modifies the file
        // behind LMDB's back, which is what `open`'s contract asks.
        #[allow(unsafe_code)]
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .map_size(64 << 30)
                .max_dbs(1)
                .open(dir)
                .expect("open LMDB environment")
        };
        let mut txn = env.write_txn().expect("LMDB write txn");
        let db = env
            .create_database(&mut txn, None)
            .expect("LMDB main database");
        txn.commit().expect("LMDB commit");
        Lmdb { env, db }
    }

    fn commit(&self, entries: &[(&[u8], &[u8])]) {
        let mut txn = self.env.write_txn().expect("LMDB write txn");
        for (key, value) in entries {
            self.db.put(&mut txn, key, value).expect("LMDB put");
        }
        txn.commit().expect("LMDB commit");
    }
}

impl Engine for Lmdb {
    const NAME: &'static str = "LMDB";

    fn create(dir: &Path) -> Lmdb {
        Lmdb::at(dir)
    }

    fn open(dir: &Path) -> Lmdb {
        Lmdb::at(dir)
    }

    fn put_durable(&self, key: &[u8], value: &[u8]) {
        self.commit(&[(key, value)]);
    }

    fn batch_durable(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn bulk_load(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn with_reader<R>(&self, read: impl FnOnce(&dyn Fn(&[u8]) -> Option<usize>) -> R) -> R {
        let txn = self.env.read_txn().expect("LMDB read txn");
        read(&|key| {
            self.db
                .get(&txn, key)
                .expect("LMDB get")
                .map(|value| value.len())
        })
    }
}

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// redb with `Durability::Immediate` (its default).
pub struct Redb {
    db: redb::Database,
}

impl Redb {
    fn commit(&self, entries: &[(&[u8], &[u8])]) {
        let txn = self.db.begin_write().expect("redb write txn");
        {
            let mut table = txn.open_table(TABLE).expect("redb table");
            for (key, value) in entries {
                table.insert(*key, *value).expect("redb insert");
            }
        }
        txn.commit().expect("redb commit");
    }
}

impl Engine for Redb {
    const NAME: &'static str = "redb";

    fn create(dir: &Path) -> Redb {
        let redb = Redb {
            db: redb::Database::create(dir.join("data.redb")).expect("create redb"),
        };
        redb.commit(&[]);
        redb
    }

    fn open(dir: &Path) -> Redb {
        Redb {
            db: redb::Database::open(dir.join("data.redb")).expect("open redb"),
        }
    }

    fn put_durable(&self, key: &[u8], value: &[u8]) {
        self.commit(&[(key, value)]);
    }

    fn batch_durable(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn bulk_load(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn with_reader<R>(&self, read: impl FnOnce(&dyn Fn(&[u8]) -> Option<usize>) -> R) -> R {
        let txn = self.db.begin_read().expect("redb read txn");
        let table = txn.open_table(TABLE).expect("redb table");
        read(&|key| {
            table
                .get(key)
                .expect("redb get")
                .map(|value| value.value().len())
        })
    }
}

/// SQLite (bundled) in WAL mode with `synchronous=FULL`, one `WITHOUT ROWID` table.
pub struct Sqlite {
    conn: Shared<rusqlite::Connection>,
}

impl Sqlite {
    fn at(dir: &Path) -> Sqlite {
        let conn = rusqlite::Connection::open(dir.join("data.sqlite")).expect("open SQLite");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("SQLite WAL mode");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("SQLite synchronous=FULL");
        conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
            [],
        )
        .expect("SQLite table");
        Sqlite {
            conn: Shared::new(conn),
        }
    }

    fn commit(&self, entries: &[(&[u8], &[u8])]) {
        self.conn.with(|conn| {
            let txn = conn.transaction().expect("SQLite transaction");
            {
                let mut put = txn
                    .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")
                    .expect("SQLite prepare");
                for (key, value) in entries {
                    put.execute((key, value)).expect("SQLite insert");
                }
            }
            txn.commit().expect("SQLite commit");
        });
    }
}

impl Engine for Sqlite {
    const NAME: &'static str = "SQLite";

    fn create(dir: &Path) -> Sqlite {
        Sqlite::at(dir)
    }

    fn open(dir: &Path) -> Sqlite {
        Sqlite::at(dir)
    }

    fn put_durable(&self, key: &[u8], value: &[u8]) {
        self.commit(&[(key, value)]);
    }

    fn batch_durable(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn bulk_load(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn with_reader<R>(&self, read: impl FnOnce(&dyn Fn(&[u8]) -> Option<usize>) -> R) -> R {
        self.conn.with(|conn| {
            let txn = conn
                .unchecked_transaction()
                .expect("SQLite read transaction");
            let mut get = txn
                .prepare_cached("SELECT length(v) FROM kv WHERE k = ?1")
                .expect("SQLite prepare");
            let get = std::cell::RefCell::new(&mut get);
            read(&|key| {
                get.borrow_mut()
                    .query_row([key], |row| row.get::<_, i64>(0))
                    .ok()
                    .map(|len| len as usize)
            })
        })
    }
}
