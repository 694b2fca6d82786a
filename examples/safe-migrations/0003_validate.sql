-- Validation in its own transaction: SHARE UPDATE EXCLUSIVE, reads and writes continue.
SET lock_timeout = '2s';
ALTER TABLE payments VALIDATE CONSTRAINT payments_user_fk;
ALTER TABLE users_user ADD CONSTRAINT users_user_email_not_null CHECK (email IS NOT NULL) NOT VALID;
