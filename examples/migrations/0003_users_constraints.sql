SET lock_timeout = '2s';
CREATE INDEX users_user_last_seen_idx ON users_user (last_seen);
ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;
ALTER TABLE payments ADD CONSTRAINT payments_user_fk FOREIGN KEY (user_id) REFERENCES users_user (id);
ALTER TABLE users_user ALTER COLUMN id TYPE bigint;
