-- Instant catalog changes, each behind a short lock_timeout.
SET lock_timeout = '2s';
ALTER TABLE users_user ADD COLUMN last_seen timestamptz DEFAULT now();
ALTER TABLE users_user ADD COLUMN api_key uuid;
ALTER TABLE users_user ALTER COLUMN api_key SET DEFAULT gen_random_uuid();
ALTER TABLE users_user ADD COLUMN country varchar(2) NOT NULL DEFAULT 'ZZ';
