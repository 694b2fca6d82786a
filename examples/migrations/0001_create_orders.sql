-- A new table: everything done to it in this run is harmless (it is empty and unused),
-- but the foreign key briefly locks the existing users_user table against writes.
SET lock_timeout = '2s';
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users_user (id),
    total numeric(12, 2) NOT NULL DEFAULT 0
);
CREATE INDEX orders_user_id_idx ON orders (user_id);
