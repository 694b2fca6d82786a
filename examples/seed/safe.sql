-- The seed story's second attempt: "no alarms, no downtime".
-- Step 1 builds the index without blocking reads or writes (outside a transaction);
-- step 2 attaches it as the constraint, a catalog change that needs its lock for milliseconds.
SET lock_timeout = '2s';

CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);

ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX users_email_uniq;
