-- Statements beyond ALTER TABLE: views, rules, constraints, domains, sequences, triggers,
-- statistics, CREATE TABLE AS, policies, comments, grants, ownership, extensions.

-- form: create-or-replace-view
CREATE OR REPLACE VIEW parent_v AS SELECT id, name FROM parent WHERE id > 0;
-- form: create-or-replace-view-add-column
CREATE OR REPLACE VIEW parent_v AS SELECT id, name, code FROM parent;
-- form: create-view
CREATE VIEW child_v AS SELECT id, qty FROM child;
-- form: create-view-over-view
CREATE VIEW parent_vvv AS SELECT id FROM parent_vv;
-- form: drop-view
DROP VIEW parent_vv;
-- form: drop-view-if-exists-missing
DROP VIEW IF EXISTS no_such_view;
-- form: alter-view-rename
ALTER VIEW parent_vv RENAME TO parent_vv2;
-- form: alter-view-rename-column
ALTER VIEW parent_vv RENAME COLUMN id TO parent_id;
-- form: alter-view-set-schema
ALTER VIEW parent_vv SET SCHEMA app;
-- form: alter-view-set-security-barrier
ALTER VIEW parent_v SET (security_barrier = true);
-- form: alter-view-set-check-option
ALTER VIEW parent_v SET (check_option = local);
-- form: alter-view-owner
ALTER VIEW parent_v OWNER TO CURRENT_USER;
-- form: alter-view-column-default
ALTER VIEW parent_v ALTER COLUMN name SET DEFAULT 'n';
-- form: create-materialized-view
CREATE MATERIALIZED VIEW parent_mv AS SELECT id FROM parent;
-- form: create-materialized-view-with-no-data
CREATE MATERIALIZED VIEW parent_mv AS SELECT id FROM parent WITH NO DATA;
-- form: refresh-materialized-view
REFRESH MATERIALIZED VIEW source_mv;
-- form: refresh-materialized-view-concurrently
REFRESH MATERIALIZED VIEW CONCURRENTLY source_mv;
-- form: alter-materialized-view-rename
ALTER MATERIALIZED VIEW source_mv RENAME TO source_mv2;
-- form: create-index-on-matview
CREATE INDEX source_mv_n_idx ON source_mv (n);
-- form: create-rule
CREATE RULE parent_no_delete AS ON DELETE TO parent DO INSTEAD NOTHING;
-- form: create-rule-on-view
CREATE RULE parent_v_insert AS ON INSERT TO parent_v DO INSTEAD INSERT INTO parent (id, name) VALUES (NEW.id, NEW.name);
-- form: drop-rule
-- setup: CREATE RULE parent_no_delete AS ON DELETE TO parent DO INSTEAD NOTHING;
DROP RULE parent_no_delete ON parent;
-- form: alter-rule-rename
-- setup: CREATE RULE parent_no_delete AS ON DELETE TO parent DO INSTEAD NOTHING;
ALTER RULE parent_no_delete ON parent RENAME TO parent_keep;
-- form: alter-constraint-deferrable
ALTER TABLE child ALTER CONSTRAINT child_parent_id_fkey DEFERRABLE INITIALLY DEFERRED;
-- form: rename-constraint
ALTER TABLE child RENAME CONSTRAINT child_qty_check TO child_qty_nonneg;
-- form: drop-check-constraint
ALTER TABLE child DROP CONSTRAINT child_qty_check;
-- form: drop-constraint-if-exists-missing
ALTER TABLE child DROP CONSTRAINT IF EXISTS no_such_constraint;
-- form: alter-domain-add-check
ALTER DOMAIN posint ADD CONSTRAINT posint_small CHECK (VALUE < 1000000);
-- form: alter-domain-add-check-not-valid
ALTER DOMAIN posint ADD CONSTRAINT posint_small CHECK (VALUE < 1000000) NOT VALID;
-- form: alter-domain-validate
-- setup: ALTER DOMAIN posint ADD CONSTRAINT posint_small CHECK (VALUE < 1000000) NOT VALID;
ALTER DOMAIN posint VALIDATE CONSTRAINT posint_small;
-- form: alter-domain-set-not-null
ALTER DOMAIN posint SET NOT NULL;
-- form: alter-domain-drop-not-null
ALTER DOMAIN nonnull_text DROP NOT NULL;
-- form: alter-domain-drop-constraint
ALTER DOMAIN posint DROP CONSTRAINT posint_check;
-- form: alter-domain-set-default
ALTER DOMAIN posint SET DEFAULT 1;
-- form: alter-domain-rename
ALTER DOMAIN posint RENAME TO positive_int;
-- form: create-domain
CREATE DOMAIN small_text AS varchar(10);
-- form: drop-domain-unused
DROP DOMAIN plain_int;
-- form: alter-type-add-value
ALTER TYPE mood ADD VALUE 'angry';
-- form: alter-type-rename-value
ALTER TYPE mood RENAME VALUE 'ok' TO 'fine';
-- form: alter-type-rename
ALTER TYPE mood RENAME TO feeling;
-- form: create-enum-type
CREATE TYPE color AS ENUM ('red', 'green');
-- form: create-composite-type
CREATE TYPE pair AS (a int, b int);
-- form: drop-type-unused
-- setup: CREATE TYPE unused_t AS ENUM ('x');
DROP TYPE unused_t;
-- form: alter-sequence-restart
ALTER SEQUENCE serials_id_seq RESTART WITH 1000;
-- form: alter-sequence-increment
ALTER SEQUENCE free_seq INCREMENT BY 10;
-- form: alter-sequence-as-bigint
ALTER SEQUENCE serials_id_seq AS bigint;
-- form: alter-sequence-owned-by
ALTER SEQUENCE free_seq OWNED BY serials.v;
-- form: alter-sequence-cache
ALTER SEQUENCE free_seq CACHE 10;
-- form: alter-sequence-rename
ALTER SEQUENCE free_seq RENAME TO free_seq2;
-- form: alter-sequence-set-logged
-- since: 15
ALTER SEQUENCE free_seq SET UNLOGGED;
-- form: create-sequence
CREATE SEQUENCE new_seq;
-- form: drop-sequence
DROP SEQUENCE free_seq;
-- form: setval-sequence
SELECT setval('free_seq', 100);
-- form: alter-column-set-identity-restart
-- setup: ALTER TABLE grandchild ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE grandchild ALTER COLUMN n RESTART WITH 5000;
-- form: create-trigger
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER child_noop BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION trg_noop();
-- form: create-trigger-on-partitioned
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER events_noop BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION trg_noop();
-- form: create-or-replace-trigger
-- since: 14
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE OR REPLACE TRIGGER child_noop AFTER INSERT ON child FOR EACH ROW EXECUTE FUNCTION trg_noop();
-- form: alter-trigger-rename
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
-- setup: CREATE TRIGGER child_noop BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION trg_noop();
ALTER TRIGGER child_noop ON child RENAME TO child_noop2;
-- form: drop-trigger
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
-- setup: CREATE TRIGGER child_noop BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION trg_noop();
DROP TRIGGER child_noop ON child;
-- form: disable-trigger
-- setup: CREATE FUNCTION trg_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
-- setup: CREATE TRIGGER child_noop BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION trg_noop();
ALTER TABLE child DISABLE TRIGGER child_noop;
-- form: disable-trigger-all
ALTER TABLE child DISABLE TRIGGER ALL;
-- form: create-statistics
CREATE STATISTICS child_stats (dependencies) ON parent_id, qty FROM child;
-- form: alter-statistics-rename
-- setup: CREATE STATISTICS child_stats (dependencies) ON parent_id, qty FROM child;
ALTER STATISTICS child_stats RENAME TO child_stats2;
-- form: alter-statistics-set-target
-- since: 13
-- setup: CREATE STATISTICS child_stats (dependencies) ON parent_id, qty FROM child;
ALTER STATISTICS child_stats SET STATISTICS 500;
-- form: drop-statistics
-- setup: CREATE STATISTICS child_stats (dependencies) ON parent_id, qty FROM child;
DROP STATISTICS child_stats;
-- form: create-table-as
CREATE TABLE child_copy AS SELECT * FROM child;
-- form: create-table-as-with-no-data
CREATE TABLE child_copy AS SELECT * FROM child WITH NO DATA;
-- form: select-into
SELECT * INTO child_copy FROM child;
-- form: create-table-like
CREATE TABLE child_like (LIKE child INCLUDING ALL);
-- form: create-table-inherits
CREATE TABLE bus (seats int) INHERITS (vehicle);
-- form: create-table-references
CREATE TABLE reviews (id int PRIMARY KEY, parent_id int REFERENCES parent (id));
-- form: create-table-references-second-schema
CREATE TABLE app.items (id int PRIMARY KEY, order_id int REFERENCES app.orders (id));
-- form: create-policy
CREATE POLICY child_own ON child USING (qty > 0);
-- form: enable-row-level-security
ALTER TABLE child ENABLE ROW LEVEL SECURITY;
-- form: alter-policy
-- setup: CREATE POLICY child_own ON child USING (qty > 0);
ALTER POLICY child_own ON child USING (qty > 1);
-- form: drop-policy
-- setup: CREATE POLICY child_own ON child USING (qty > 0);
DROP POLICY child_own ON child;
-- form: comment-on-table
COMMENT ON TABLE child IS 'children';
-- form: comment-on-column
COMMENT ON COLUMN child.qty IS 'quantity';
-- form: comment-on-index
COMMENT ON INDEX child_parent_idx IS 'by parent';
-- form: comment-on-view
COMMENT ON VIEW parent_v IS 'parents';
-- form: grant-select
GRANT SELECT ON child TO PUBLIC;
-- form: revoke-select
REVOKE SELECT ON child FROM PUBLIC;
-- form: grant-on-schema
GRANT USAGE ON SCHEMA app TO PUBLIC;
-- form: alter-table-owner
ALTER TABLE child OWNER TO CURRENT_USER;
-- form: alter-table-set-schema
ALTER TABLE grandchild SET SCHEMA app;
-- form: alter-table-rename
ALTER TABLE grandchild RENAME TO grandkid;
-- form: alter-table-rename-column
ALTER TABLE grandchild RENAME COLUMN child_id TO kid_id;
-- form: alter-index-rename
ALTER INDEX child_parent_idx RENAME TO child_parent_idx2;
-- form: alter-index-set-tablespace-same
ALTER INDEX child_parent_idx SET TABLESPACE pg_default;
-- form: alter-table-set-tablespace-same
ALTER TABLE child SET TABLESPACE pg_default;
-- form: alter-index-set-statistics
ALTER INDEX child_lower_label_idx ALTER COLUMN 1 SET STATISTICS 100;
-- form: alter-table-replica-identity-full
ALTER TABLE child REPLICA IDENTITY FULL;
-- form: alter-table-replica-identity-index
ALTER TABLE child REPLICA IDENTITY USING INDEX child_pkey;
-- form: alter-table-cluster-on
ALTER TABLE child CLUSTER ON child_parent_idx;
-- form: alter-table-set-without-cluster
ALTER TABLE child SET WITHOUT CLUSTER;
-- form: create-extension
CREATE EXTENSION IF NOT EXISTS btree_gin;
-- form: create-function
CREATE FUNCTION f_new() RETURNS int LANGUAGE sql AS 'SELECT 2';
-- form: create-or-replace-function-used-by-default
-- setup: CREATE TABLE fn_user (id int, v int DEFAULT f_volatile());
CREATE OR REPLACE FUNCTION f_volatile() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 3';
-- form: drop-function
DROP FUNCTION f_stable();
-- form: create-schema
CREATE SCHEMA reporting;
-- form: alter-schema-rename
ALTER SCHEMA app RENAME TO application;
-- form: create-publication
CREATE PUBLICATION child_pub FOR TABLE child;
-- form: lock-table-share
LOCK TABLE child IN SHARE MODE;
-- form: lock-table-default
LOCK TABLE child;
-- form: lock-view
LOCK TABLE parent_v IN ACCESS SHARE MODE;
-- form: set-local-statement-timeout
SET LOCAL statement_timeout = '5s';
-- form: update-with-subquery
UPDATE child SET qty = qty + 1 WHERE parent_id IN (SELECT id FROM parent WHERE id < 10);
-- form: delete-cascading-fk
DELETE FROM child WHERE id = 1;
-- form: insert-into-partitioned
INSERT INTO events VALUES (1000, 'k', '2026-05-01');
-- form: insert-into-view
INSERT INTO parent_v VALUES (1000, 'p1000');
-- form: update-partitioned-moves-row
UPDATE events SET at = '2026-06-01' WHERE id = 1;
