-- The adversarial fixture: the shapes real schemas have and the catalogue's own fixture lacks.
-- Every form in this directory runs against it (BEGIN; setup; form; ROLLBACK, or autocommit on
-- a fresh copy for forms that cannot run in a transaction). Keep it small: 500 rows a table.
CREATE SCHEMA app;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Foreign keys both ways: parent <- child, and child.parent_id is itself referenced.
CREATE TABLE parent (id int PRIMARY KEY, name text, code varchar(30));
INSERT INTO parent SELECT g, 'p' || g, 'c' || g FROM generate_series(1, 500) g;
CREATE TABLE child (
    id int PRIMARY KEY,
    parent_id int REFERENCES parent (id),
    qty int CHECK (qty >= 0),
    label varchar(30) CHECK (length(label) < 30),
    bits bit(4),
    ts timestamp,
    note text
);
CREATE INDEX child_parent_idx ON child (parent_id);
CREATE INDEX child_lower_label_idx ON child (lower(label));
CREATE INDEX child_partial_idx ON child (qty) WHERE qty > 10;
INSERT INTO child SELECT g, g, g, 'l' || g, B'1010', now(), 'n' FROM generate_series(1, 500) g;
CREATE TABLE grandchild (id int PRIMARY KEY, child_id int REFERENCES child (id) ON DELETE CASCADE);
INSERT INTO grandchild SELECT g, g FROM generate_series(1, 500) g;

-- Partitioned tables: one with a DEFAULT partition, one without; a detached candidate.
CREATE TABLE events (id int NOT NULL, kind text, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_at_idx ON events (at);
INSERT INTO events SELECT g, 'k', date '2025-01-01' + (g % 900) FROM generate_series(1, 500) g;
-- Rows in the DEFAULT partition, so attaching or creating a partition has something to check.
INSERT INTO events SELECT 1000 + g, 'late', date '2030-01-01' + g FROM generate_series(1, 100) g;
CREATE TABLE metrics (id int NOT NULL, v int) PARTITION BY LIST (id);
CREATE TABLE metrics_1 PARTITION OF metrics FOR VALUES IN (1, 2, 3);
CREATE TABLE metrics_2 PARTITION OF metrics FOR VALUES IN (4, 5, 6);
INSERT INTO metrics SELECT 1 + g % 6, g FROM generate_series(1, 500) g;
CREATE TABLE events_2027 (id int NOT NULL, kind text, at date NOT NULL);
INSERT INTO events_2027 SELECT g, 'k', date '2027-01-01' + (g % 300) FROM generate_series(1, 500) g;
CREATE TABLE metrics_3 (id int NOT NULL, v int);
INSERT INTO metrics_3 SELECT 7, g FROM generate_series(1, 500) g;

-- Inheritance.
CREATE TABLE vehicle (id int, wheels int);
CREATE TABLE car (doors int) INHERITS (vehicle);
CREATE TABLE truck (load int) INHERITS (vehicle);
INSERT INTO car SELECT g, 4, 4 FROM generate_series(1, 500) g;
INSERT INTO truck SELECT g, 6, 10 FROM generate_series(1, 500) g;

-- Domains: with a CHECK, with NOT NULL, with a volatile default, and constraint-free.
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN nonnull_text AS text NOT NULL;
CREATE DOMAIN rand_default AS float8 DEFAULT random();
CREATE DOMAIN plain_int AS int;
CREATE TABLE uses_domain (id int PRIMARY KEY, p posint, t nonnull_text DEFAULT 'x');
INSERT INTO uses_domain SELECT g, g, 't' FROM generate_series(1, 500) g;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE diary (id int PRIMARY KEY, m mood);
INSERT INTO diary SELECT g, 'ok' FROM generate_series(1, 500) g;

-- Views and materialized views, with dependencies.
CREATE VIEW parent_v AS SELECT id, name FROM parent;
CREATE VIEW parent_vv AS SELECT id FROM parent_v;
CREATE TABLE mv_source (id int PRIMARY KEY, k int);
INSERT INTO mv_source SELECT g, g % 50 FROM generate_series(1, 500) g;
CREATE MATERIALIZED VIEW source_mv AS SELECT k, count(*) AS n FROM mv_source GROUP BY k;
CREATE UNIQUE INDEX source_mv_k ON source_mv (k);

-- Sequences: owned by a column, and free-standing.
CREATE TABLE serials (id serial PRIMARY KEY, v int);
INSERT INTO serials (v) SELECT g FROM generate_series(1, 500) g;
CREATE SEQUENCE free_seq;

-- A second schema with a same-named table.
CREATE TABLE app.parent (id int PRIMARY KEY, name text);
INSERT INTO app.parent SELECT g, 'a' || g FROM generate_series(1, 500) g;
CREATE TABLE app.orders (id int PRIMARY KEY, parent_id int REFERENCES app.parent (id));
INSERT INTO app.orders SELECT g, g FROM generate_series(1, 500) g;

-- Indexes of several access methods (reloptions differ per method).
CREATE TABLE docs (id int PRIMARY KEY, body text, tags text[]);
INSERT INTO docs SELECT g, 'body ' || g, ARRAY['a', 'b'] FROM generate_series(1, 500) g;
CREATE INDEX docs_tags_gin ON docs USING gin (tags);
CREATE INDEX docs_body_trgm ON docs USING gist (body gist_trgm_ops);
CREATE INDEX docs_id_brin ON docs USING brin (id);

-- Functions of each volatility.
CREATE FUNCTION f_immutable(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
CREATE FUNCTION f_stable() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE FUNCTION f_volatile() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';
-- Volatile SQL functions PostgreSQL does not inline into a constant.
CREATE FUNCTION f_volatile_body() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT (random() * 10)::int';
CREATE FUNCTION f_volatile_definer() RETURNS int LANGUAGE sql VOLATILE SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION f_volatile_plpgsql() RETURNS int LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 1; END';
ANALYZE;
