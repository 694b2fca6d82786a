-- Relations a statement touches beyond the one it names: foreign keys both ways, CASCADE,
-- partitions and the default partition, inheritance children, views over a table.

-- form: fk-column-type-bigint
ALTER TABLE child ALTER COLUMN parent_id TYPE bigint;
-- form: fk-referenced-column-type-bigint
ALTER TABLE app.parent ALTER COLUMN id TYPE bigint;
-- form: fk-referenced-middle-column-type
ALTER TABLE child ALTER COLUMN id TYPE bigint;
-- form: fk-column-type-same
ALTER TABLE child ALTER COLUMN parent_id TYPE int;
-- form: fk-add-to-parent
ALTER TABLE grandchild ADD CONSTRAINT gc_parent_fk FOREIGN KEY (child_id) REFERENCES parent (id);
-- form: fk-add-not-valid
ALTER TABLE grandchild ADD CONSTRAINT gc_parent_fk FOREIGN KEY (child_id) REFERENCES parent (id) NOT VALID;
-- form: fk-validate
-- setup: ALTER TABLE grandchild ADD CONSTRAINT gc_parent_fk FOREIGN KEY (child_id) REFERENCES parent (id) NOT VALID;
ALTER TABLE grandchild VALIDATE CONSTRAINT gc_parent_fk;
-- form: fk-drop-constraint
ALTER TABLE child DROP CONSTRAINT child_parent_id_fkey;
-- form: fk-drop-referenced-pk-cascade
ALTER TABLE parent DROP CONSTRAINT parent_pkey CASCADE;
-- form: fk-add-column-references
ALTER TABLE grandchild ADD COLUMN parent_id int REFERENCES parent (id);
-- form: fk-add-column-default-references
ALTER TABLE grandchild ADD COLUMN parent_id int DEFAULT 1 REFERENCES parent (id);
-- form: fk-add-column-references-second-schema
ALTER TABLE grandchild ADD COLUMN app_parent_id int REFERENCES app.parent (id);
-- form: fk-second-schema-type
ALTER TABLE app.orders ALTER COLUMN parent_id TYPE bigint;
-- form: fk-self-reference
ALTER TABLE parent ADD COLUMN boss int REFERENCES parent (id);
-- form: fk-on-partitioned
ALTER TABLE events ADD COLUMN parent_id int REFERENCES parent (id);
-- form: fk-drop-column-with-fk
ALTER TABLE child DROP COLUMN parent_id;
-- form: fk-drop-referenced-column-cascade
ALTER TABLE parent DROP COLUMN id CASCADE;
-- form: fk-rename-referenced-column
ALTER TABLE parent RENAME COLUMN id TO parent_id;
-- form: truncate-plain
TRUNCATE grandchild;
-- form: truncate-cascade
TRUNCATE child CASCADE;
-- form: truncate-cascade-parent
TRUNCATE parent CASCADE;
-- form: truncate-restart-identity
TRUNCATE serials RESTART IDENTITY;
-- form: truncate-partitioned
TRUNCATE events;
-- form: truncate-partition
TRUNCATE events_2025;
-- form: truncate-inheritance-parent
TRUNCATE vehicle;
-- form: truncate-only-inheritance-parent
TRUNCATE ONLY vehicle;
-- form: truncate-two-tables
TRUNCATE grandchild, diary;
-- form: drop-table-cascade
DROP TABLE child CASCADE;
-- form: drop-table-cascade-parent
DROP TABLE parent CASCADE;
-- form: drop-table-leaf
DROP TABLE grandchild;
-- form: drop-table-partitioned
DROP TABLE events;
-- form: drop-table-partition
DROP TABLE events_2026;
-- form: drop-table-inheritance-parent-cascade
DROP TABLE vehicle CASCADE;
-- form: drop-table-inheritance-child
DROP TABLE car;
-- form: drop-schema-cascade
DROP SCHEMA app CASCADE;
-- form: drop-type-cascade
DROP TYPE mood CASCADE;
-- form: drop-domain-cascade
DROP DOMAIN posint CASCADE;
-- form: drop-view-cascade
DROP VIEW parent_v CASCADE;
-- form: drop-function-cascade
-- setup: CREATE TABLE fn_user (id int, v int DEFAULT f_volatile());
DROP FUNCTION f_volatile() CASCADE;
-- form: drop-sequence-cascade
DROP SEQUENCE serials_id_seq CASCADE;
-- form: drop-materialized-view
DROP MATERIALIZED VIEW source_mv;
-- form: drop-index-of-partitioned
DROP INDEX events_at_idx;
-- form: attach-partition-with-default
ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- form: attach-partition-with-check
-- setup: ALTER TABLE events_2027 ADD CONSTRAINT in_range CHECK (at >= '2027-01-01' AND at < '2028-01-01');
ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- form: attach-partition-no-default
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8);
-- form: attach-partition-no-default-with-check
-- setup: ALTER TABLE metrics_3 ADD CONSTRAINT in_list CHECK (id IS NOT NULL AND id = ANY (ARRAY[7, 8]));
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8);
-- form: attach-partition-in-list-check-on-not-null-key
-- setup: ALTER TABLE metrics_3 ADD CONSTRAINT in78 CHECK (id IN (7, 8));
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8, 9);
-- form: attach-partition-check-wider-than-list
-- setup: ALTER TABLE metrics_3 ADD CONSTRAINT in79 CHECK (id IN (7, 9));
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8);
-- form: attach-partition-check-not-valid
-- setup: ALTER TABLE metrics_3 ADD CONSTRAINT in78nv CHECK (id IN (7, 8)) NOT VALID;
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8);
-- form: attach-partition-or-equalities-check
-- setup: ALTER TABLE metrics_3 ADD CONSTRAINT eq78 CHECK (id = 7 OR id = 8);
ALTER TABLE metrics ATTACH PARTITION metrics_3 FOR VALUES IN (7, 8);
-- form: attach-range-partition-with-check-no-default
-- setup: CREATE TABLE ranged (n int NOT NULL, v int) PARTITION BY RANGE (n);
-- setup: CREATE TABLE ranged_1 (n int NOT NULL, v int);
-- setup: INSERT INTO ranged_1 SELECT g, g FROM generate_series(100, 199) g;
-- setup: ALTER TABLE ranged_1 ADD CONSTRAINT r1 CHECK (n >= 100 AND n < 200);
ALTER TABLE ranged ATTACH PARTITION ranged_1 FOR VALUES FROM (100) TO (200);
-- form: attach-range-partition-between-check
-- setup: CREATE TABLE ranged (n int NOT NULL, v int) PARTITION BY RANGE (n);
-- setup: CREATE TABLE ranged_1 (n int NOT NULL, v int);
-- setup: INSERT INTO ranged_1 SELECT g, g FROM generate_series(100, 199) g;
-- setup: ALTER TABLE ranged_1 ADD CONSTRAINT r1 CHECK (n BETWEEN 100 AND 199);
ALTER TABLE ranged ATTACH PARTITION ranged_1 FOR VALUES FROM (100) TO (200);
-- form: attach-range-partition-strict-lower-check
-- setup: CREATE TABLE ranged (n int NOT NULL, v int) PARTITION BY RANGE (n);
-- setup: CREATE TABLE ranged_1 (n int NOT NULL, v int);
-- setup: INSERT INTO ranged_1 SELECT g, g FROM generate_series(100, 199) g;
-- setup: ALTER TABLE ranged_1 ADD CONSTRAINT r1 CHECK (n > 99 AND n < 200);
ALTER TABLE ranged ATTACH PARTITION ranged_1 FOR VALUES FROM (100) TO (200);
-- form: attach-range-partition-nullable-key-check
-- setup: CREATE TABLE ranged (n int, v int) PARTITION BY RANGE (n);
-- setup: CREATE TABLE ranged_1 (n int, v int);
-- setup: INSERT INTO ranged_1 SELECT g, g FROM generate_series(100, 199) g;
-- setup: ALTER TABLE ranged_1 ADD CONSTRAINT r1 CHECK (n >= 100 AND n < 200);
ALTER TABLE ranged ATTACH PARTITION ranged_1 FOR VALUES FROM (100) TO (200);
-- form: attach-date-range-partition-with-check-no-default
-- setup: CREATE TABLE daily (at date NOT NULL, v int) PARTITION BY RANGE (at);
-- setup: CREATE TABLE daily_2027 (at date NOT NULL, v int);
-- setup: ALTER TABLE daily_2027 ADD CONSTRAINT y2027 CHECK (at >= '2027-01-01' AND at < '2028-01-01');
ALTER TABLE daily ATTACH PARTITION daily_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- form: create-partition-of-with-default
CREATE TABLE events_2028 PARTITION OF events FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
-- form: create-partition-of-no-default
CREATE TABLE metrics_4 PARTITION OF metrics FOR VALUES IN (10, 11);
-- form: create-default-partition
CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;
-- form: detach-partition
ALTER TABLE events DETACH PARTITION events_2025;
-- form: detach-default-partition
ALTER TABLE events DETACH PARTITION events_default;
-- form: detach-partition-concurrently
-- autocommit
-- hold: SELECT 1 FROM metrics WHERE id = 1
-- hold: SELECT 1 FROM metrics_2 WHERE id = 4
-- since: 14
ALTER TABLE metrics DETACH PARTITION metrics_2 CONCURRENTLY;
-- form: partitioned-add-column
ALTER TABLE events ADD COLUMN note text;
-- form: partitioned-add-column-volatile-default
ALTER TABLE events ADD COLUMN r float8 DEFAULT random();
-- form: partitioned-set-not-null
ALTER TABLE events ALTER COLUMN kind SET NOT NULL;
-- form: partitioned-alter-type
ALTER TABLE events ALTER COLUMN id TYPE bigint;
-- form: partitioned-add-check
ALTER TABLE events ADD CONSTRAINT kind_len CHECK (length(kind) < 10);
-- form: partitioned-add-check-not-valid
ALTER TABLE metrics ADD CONSTRAINT v_pos CHECK (v > 0) NOT VALID;
-- form: partitioned-create-index
CREATE INDEX events_kind_idx ON events (kind);
-- form: partitioned-create-index-only
CREATE INDEX events_kind_idx ON ONLY events (kind);
-- form: partitioned-drop-column
ALTER TABLE events DROP COLUMN kind;
-- form: partitioned-rename
ALTER TABLE events RENAME TO events_renamed;
-- form: partitioned-set-statistics
ALTER TABLE events ALTER COLUMN kind SET STATISTICS 200;
-- form: partitioned-set-default
ALTER TABLE events ALTER COLUMN kind SET DEFAULT 'x';
-- form: partition-add-column-refused
ALTER TABLE events_2025 ADD COLUMN own text;
-- form: partition-create-index
CREATE INDEX events_2025_kind_idx ON events_2025 (kind);
-- form: inheritance-parent-add-column
ALTER TABLE vehicle ADD COLUMN color text;
-- form: inheritance-parent-add-column-volatile-default
ALTER TABLE vehicle ADD COLUMN r float8 DEFAULT random();
-- form: inheritance-parent-alter-type
ALTER TABLE vehicle ALTER COLUMN wheels TYPE bigint;
-- form: inheritance-parent-set-not-null
ALTER TABLE vehicle ALTER COLUMN wheels SET NOT NULL;
-- form: inheritance-parent-add-check
ALTER TABLE vehicle ADD CONSTRAINT wheels_pos CHECK (wheels > 0);
-- form: inheritance-only-parent-add-check
ALTER TABLE ONLY vehicle ADD CONSTRAINT wheels_pos CHECK (wheels > 0) NO INHERIT;
-- form: inheritance-parent-drop-column
ALTER TABLE vehicle DROP COLUMN wheels;
-- form: inheritance-parent-rename-column
ALTER TABLE vehicle RENAME COLUMN wheels TO wheel_count;
-- form: inheritance-no-inherit
ALTER TABLE car NO INHERIT vehicle;
-- form: inheritance-inherit
-- setup: CREATE TABLE bike (id int, wheels int);
ALTER TABLE bike INHERIT vehicle;
-- form: inheritance-create-index-parent
CREATE INDEX vehicle_wheels_idx ON vehicle (wheels);
-- form: inheritance-vacuum-parent
-- autocommit
-- setup: INSERT INTO vehicle SELECT g, 4 FROM generate_series(1, 500) g;
-- setup: SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 1;
-- hold: LOCK TABLE ONLY vehicle IN SHARE UPDATE EXCLUSIVE MODE
VACUUM vehicle;
-- form: inheritance-analyze-parent
ANALYZE vehicle;
-- form: view-base-table-add-column
ALTER TABLE parent ADD COLUMN extra int;
-- form: view-base-table-alter-type-refused
ALTER TABLE parent ALTER COLUMN name TYPE varchar(100);
-- form: view-base-table-drop-column-cascade
ALTER TABLE parent DROP COLUMN name CASCADE;
-- form: matview-base-alter-type-refused
ALTER TABLE mv_source ALTER COLUMN k TYPE int8;
