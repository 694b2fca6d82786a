SET lock_timeout = '2s';
CREATE INDEX CONCURRENTLY users_user_last_seen_idx ON users_user (last_seen);
ALTER TABLE payments ADD CONSTRAINT payments_user_fk FOREIGN KEY (user_id) REFERENCES users_user (id) NOT VALID;
