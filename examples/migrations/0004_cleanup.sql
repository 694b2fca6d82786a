SET lock_timeout = '2s';
BEGIN;
ALTER TABLE users_user RENAME COLUMN username TO login;
DROP INDEX users_user_old_idx;
CREATE INDEX CONCURRENTLY users_user_login_idx ON users_user (login);
COMMIT;
