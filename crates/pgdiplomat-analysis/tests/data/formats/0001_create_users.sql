-- A new table, indexed in the same run: nothing to report.
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL
);
CREATE INDEX users_email_idx ON users (email);

-- Changes to an existing table, with a lock timeout.
SET lock_timeout = '2s';
ALTER TABLE accounts RENAME COLUMN name TO full_name;
ALTER TABLE accounts ADD COLUMN created_at timestamptz DEFAULT now();
