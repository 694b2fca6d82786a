SET lock_timeout = '2s';
ALTER TABLE users_user VALIDATE CONSTRAINT users_user_email_not_null;
-- The validated CHECK proves the column has no NULLs: PostgreSQL skips the scan.
ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;
ALTER TABLE users_user DROP CONSTRAINT users_user_email_not_null;
