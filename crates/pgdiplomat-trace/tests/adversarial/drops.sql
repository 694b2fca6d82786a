-- DROPs whose locks come from what depends on the dropped object (pg_depend), ALTER
-- PUBLICATION ... SET (the tables it had), foreign tables (remote rows), and ATTACH with no
-- row to check. Each runs where the model reads the schema from the database.

-- form: drop-function-used-by-trigger-cascade
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
-- setup: CREATE TRIGGER parent_noop BEFORE UPDATE ON parent FOR EACH ROW EXECUTE FUNCTION trg_noop();
DROP FUNCTION trg_noop() CASCADE;
-- form: drop-function-used-by-trigger-restrict
-- setup: CREATE FUNCTION trg_noop2() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
-- setup: CREATE TRIGGER parent_noop2 BEFORE UPDATE ON parent FOR EACH ROW EXECUTE FUNCTION trg_noop2();
DROP FUNCTION trg_noop2();
-- form: drop-function-used-by-check-cascade
-- setup: CREATE FUNCTION is_pos(int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 0';
-- setup: ALTER TABLE child ADD CONSTRAINT child_qty_pos CHECK (is_pos(qty));
DROP FUNCTION is_pos(int) CASCADE;
-- form: drop-function-used-by-index-cascade
-- setup: CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
-- setup: CREATE INDEX child_twice_idx ON child (twice(qty));
DROP FUNCTION twice CASCADE;
-- form: drop-table-with-view-on-view-cascade
DROP TABLE parent CASCADE;
-- form: drop-view-with-view-on-it-cascade
DROP VIEW parent_v CASCADE;
-- form: drop-schema-restrict-empty
-- setup: CREATE SCHEMA empty_schema;
DROP SCHEMA empty_schema;
-- form: drop-schema-cascade-with-outside-dependents
-- setup: CREATE SCHEMA lib; CREATE TABLE lib.codes (code int PRIMARY KEY);
-- setup: CREATE TABLE uses_codes (id int, code int REFERENCES lib.codes);
-- setup: CREATE VIEW codes_v AS SELECT code FROM lib.codes;
DROP SCHEMA lib CASCADE;
-- form: drop-type-used-by-composite-column
-- setup: CREATE TYPE pair AS (a int, b int); CREATE TABLE pairs (id int, p pair);
DROP TYPE pair CASCADE;
-- form: drop-collation-cascade
-- setup: CREATE COLLATION my_c (locale = 'C'); CREATE TABLE collated (id int, s text COLLATE my_c);
DROP COLLATION my_c CASCADE;
-- form: drop-server-cascade
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw; CREATE SERVER adv_srv FOREIGN DATA WRAPPER adv_fdw;
-- setup: CREATE FOREIGN TABLE remote_t (id int) SERVER adv_srv; CREATE VIEW remote_v AS SELECT id FROM remote_t;
DROP SERVER adv_srv CASCADE;
-- form: drop-fdw-cascade
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw2; CREATE SERVER adv_srv2 FOREIGN DATA WRAPPER adv_fdw2;
-- setup: CREATE FOREIGN TABLE remote_t2 (id int) SERVER adv_srv2;
DROP FOREIGN DATA WRAPPER adv_fdw2 CASCADE;
-- form: drop-foreign-table
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw3; CREATE SERVER adv_srv3 FOREIGN DATA WRAPPER adv_fdw3;
-- setup: CREATE FOREIGN TABLE remote_t3 (id int) SERVER adv_srv3;
DROP FOREIGN TABLE remote_t3;
-- form: drop-owned-by-role
-- setup: CREATE ROLE adv_owner; CREATE TABLE owned_t (id int); ALTER TABLE owned_t OWNER TO adv_owner;
-- setup: CREATE SEQUENCE owned_s; ALTER SEQUENCE owned_s OWNER TO adv_owner;
DROP OWNED BY adv_owner;
-- form: reassign-owned-by-role
-- setup: CREATE ROLE adv_owner2; CREATE TABLE owned_t2 (id int); ALTER TABLE owned_t2 OWNER TO adv_owner2;
REASSIGN OWNED BY adv_owner2 TO CURRENT_USER;
-- form: alter-publication-set-table
-- setup: CREATE PUBLICATION adv_pub FOR TABLE parent, child;
ALTER PUBLICATION adv_pub SET TABLE child;
-- form: drop-publication
-- setup: CREATE PUBLICATION adv_pub2 FOR TABLE parent;
DROP PUBLICATION adv_pub2;
-- form: alter-foreign-table-set-not-null
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw4; CREATE SERVER adv_srv4 FOREIGN DATA WRAPPER adv_fdw4;
-- setup: CREATE FOREIGN TABLE remote_t4 (id int, v text) SERVER adv_srv4;
ALTER FOREIGN TABLE remote_t4 ALTER COLUMN id SET NOT NULL;
-- form: alter-foreign-table-type
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw5; CREATE SERVER adv_srv5 FOREIGN DATA WRAPPER adv_fdw5;
-- setup: CREATE FOREIGN TABLE remote_t5 (id int, v text) SERVER adv_srv5;
ALTER FOREIGN TABLE remote_t5 ALTER COLUMN id TYPE bigint;
-- form: attach-foreign-partition
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw6; CREATE SERVER adv_srv6 FOREIGN DATA WRAPPER adv_fdw6;
-- setup: CREATE FOREIGN TABLE metrics_remote (id int NOT NULL, v int) SERVER adv_srv6;
ALTER TABLE metrics ATTACH PARTITION metrics_remote FOR VALUES IN (7, 8);
-- form: attach-default-to-empty-parent
-- setup: CREATE TABLE lonely (id int) PARTITION BY LIST (id); CREATE TABLE lonely_d (id int);
-- setup: INSERT INTO lonely_d SELECT generate_series(1, 100);
ALTER TABLE lonely ATTACH PARTITION lonely_d DEFAULT;
-- form: inheritance-parent-with-foreign-child-add-check
-- setup: CREATE FOREIGN DATA WRAPPER adv_fdw7; CREATE SERVER adv_srv7 FOREIGN DATA WRAPPER adv_fdw7;
-- setup: CREATE FOREIGN TABLE bike (pedals int) INHERITS (vehicle) SERVER adv_srv7;
ALTER TABLE vehicle ADD CONSTRAINT vehicle_wheels_pos CHECK (wheels > 0);
