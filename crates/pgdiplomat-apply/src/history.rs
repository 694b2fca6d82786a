//! The history table: one row per migration with its checksum, state, progress (steps done),
//! timings and last error. Transactional steps update it in their own transaction, so a crash
//! can never record a step that did not happen.

use pgdiplomat_pg::postgres::{Client, GenericClient};
use pgdiplomat_pg::quote_ident;

/// The state of a migration in the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub checksum: String,
    pub state: String,
    pub steps_done: i32,
    pub steps_total: i32,
}

/// The history table in a given schema.
#[derive(Debug, Clone)]
pub struct History {
    pub schema: String,
}

impl History {
    pub fn new(schema: &str) -> Self {
        History {
            schema: schema.to_string(),
        }
    }

    fn table(&self) -> String {
        format!("{}.migrations", quote_ident(&self.schema))
    }

    /// The advisory lock key that keeps two runners on this history apart.
    pub fn lock_key(&self) -> i64 {
        // FNV-1a, so the key is stable across versions and platforms.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in format!("pgdiplomat:{}", self.schema).bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        h as i64
    }

    pub fn ensure(&self, client: &mut Client) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.batch_execute(&format!(
            "SET lock_timeout = '5s';
             CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {table} (
                 name text PRIMARY KEY,
                 checksum text NOT NULL,
                 state text NOT NULL CHECK (state IN ('running', 'applied', 'failed')),
                 steps_total integer NOT NULL,
                 steps_done integer NOT NULL DEFAULT 0,
                 attempts integer NOT NULL DEFAULT 0,
                 started_at timestamptz NOT NULL DEFAULT now(),
                 finished_at timestamptz,
                 duration_ms double precision,
                 last_error text,
                 applied_by text NOT NULL DEFAULT current_user
             );
             CREATE TABLE IF NOT EXISTS {schema}.backfills (
                 migration text NOT NULL,
                 step integer NOT NULL,
                 last_key bigint NOT NULL,
                 rows bigint NOT NULL DEFAULT 0,
                 updated_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (migration, step)
             );
             RESET lock_timeout;",
            schema = quote_ident(&self.schema),
            table = self.table()
        ))
    }

    pub fn get(
        &self,
        client: &mut Client,
        name: &str,
    ) -> Result<Option<Record>, pgdiplomat_pg::postgres::Error> {
        Ok(client
            .query_opt(
                &format!(
                    "SELECT checksum, state, steps_done, steps_total FROM {} WHERE name = $1",
                    self.table()
                ),
                &[&name],
            )?
            .map(|r| Record {
                checksum: r.get(0),
                state: r.get(1),
                steps_done: r.get(2),
                steps_total: r.get(3),
            }))
    }

    /// Starts (or restarts, keeping progress) a migration.
    pub fn start(
        &self,
        client: &mut Client,
        name: &str,
        checksum: &str,
        steps_total: i32,
        keep_progress: bool,
    ) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            &format!(
                "INSERT INTO {t} (name, checksum, state, steps_total) VALUES ($1, $2, 'running', $3)
                 ON CONFLICT (name) DO UPDATE SET checksum = $2, state = 'running', steps_total = $3,
                     steps_done = CASE WHEN $4 THEN {t}.steps_done ELSE 0 END,
                     started_at = CASE WHEN $4 THEN {t}.started_at ELSE now() END,
                     finished_at = NULL, last_error = NULL",
                t = self.table()
            ),
            &[&name, &checksum, &steps_total, &keep_progress],
        )?;
        Ok(())
    }

    /// Records that step `done` (1-based count) finished; call inside the step's transaction.
    pub fn step_done(
        &self,
        client: &mut impl GenericClient,
        name: &str,
        done: i32,
        attempts: i32,
    ) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            &format!(
                "UPDATE {} SET steps_done = $2, attempts = attempts + $3 WHERE name = $1",
                self.table()
            ),
            &[&name, &done, &attempts],
        )?;
        Ok(())
    }

    /// Where a backfill of `migration`'s step stopped (the last key done), if it started.
    pub fn backfill_position(
        &self,
        client: &mut Client,
        migration: &str,
        step: i32,
    ) -> Result<Option<(i64, i64)>, pgdiplomat_pg::postgres::Error> {
        Ok(client
            .query_opt(
                &format!(
                    "SELECT last_key, rows FROM {}.backfills WHERE migration = $1 AND step = $2",
                    quote_ident(&self.schema)
                ),
                &[&migration, &step],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// Records a finished batch; call inside the batch's transaction.
    pub fn backfill_done(
        &self,
        client: &mut impl GenericClient,
        migration: &str,
        step: i32,
        last_key: i64,
        rows: i64,
    ) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            &format!(
                "INSERT INTO {}.backfills (migration, step, last_key, rows) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (migration, step) DO UPDATE SET last_key = $3, rows = backfills.rows + $4, updated_at = now()",
                quote_ident(&self.schema)
            ),
            &[&migration, &step, &last_key, &rows],
        )?;
        Ok(())
    }

    pub fn finish(
        &self,
        client: &mut Client,
        name: &str,
    ) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            &format!(
                "UPDATE {} SET state = 'applied', finished_at = now(),
                        duration_ms = extract(epoch FROM now() - started_at) * 1000 WHERE name = $1",
                self.table()
            ),
            &[&name],
        )?;
        Ok(())
    }

    pub fn fail(
        &self,
        client: &mut Client,
        name: &str,
        error: &str,
    ) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            &format!("UPDATE {} SET state = 'failed', last_error = $2, finished_at = now() WHERE name = $1", self.table()),
            &[&name, &error],
        )?;
        Ok(())
    }
}
