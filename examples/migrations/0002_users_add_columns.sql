ALTER TABLE users_user ADD COLUMN last_seen timestamptz DEFAULT now();
ALTER TABLE users_user ADD COLUMN api_key uuid DEFAULT gen_random_uuid();
ALTER TABLE users_user ADD COLUMN country varchar(2) NOT NULL;
