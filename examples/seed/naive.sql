-- The seed story's first attempt: Django's AlterField(unique=True) as sqlmigrate prints it.
-- On production this took ACCESS EXCLUSIVE on users_user and froze the application
-- for the whole unique-index build.
BEGIN;
ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);
COMMIT;
