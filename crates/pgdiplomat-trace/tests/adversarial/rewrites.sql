-- Rewrites and scans: domains, binary-coercible changes next to CHECKs and expression indexes,
-- constraints that validate, and defaults.

-- form: add-column-domain-check
ALTER TABLE child ADD COLUMN p posint;
-- form: add-column-domain-check-default
ALTER TABLE child ADD COLUMN p posint DEFAULT 1;
-- form: add-column-domain-not-null-default
ALTER TABLE child ADD COLUMN t nonnull_text DEFAULT 'x';
-- form: add-column-domain-volatile-default
ALTER TABLE child ADD COLUMN r rand_default;
-- form: add-column-plain-domain
ALTER TABLE child ADD COLUMN d plain_int;
-- form: add-column-plain-domain-default
ALTER TABLE child ADD COLUMN d plain_int DEFAULT 5;
-- form: add-column-enum
ALTER TABLE child ADD COLUMN m mood;
-- form: add-column-enum-default
ALTER TABLE child ADD COLUMN m mood DEFAULT 'ok';
-- form: add-column-array-default
ALTER TABLE child ADD COLUMN tags text[] DEFAULT '{}';
-- form: add-column-default-now
ALTER TABLE child ADD COLUMN created_at timestamptz DEFAULT now();
-- form: add-column-default-clock-timestamp
ALTER TABLE child ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();
-- form: add-column-default-gen-random-uuid
-- since: 13
ALTER TABLE child ADD COLUMN u uuid DEFAULT gen_random_uuid();
-- form: add-column-default-nextval
-- setup: CREATE SEQUENCE child_seq;
ALTER TABLE child ADD COLUMN n bigint DEFAULT nextval('child_seq');
-- form: add-column-serial
ALTER TABLE child ADD COLUMN n serial;
-- form: add-column-identity
ALTER TABLE child ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
-- form: add-column-generated-stored
ALTER TABLE child ADD COLUMN qty2 int GENERATED ALWAYS AS (qty * 2) STORED;
-- form: add-column-not-null-default
ALTER TABLE child ADD COLUMN flag boolean NOT NULL DEFAULT false;
-- form: add-column-not-null-no-default
ALTER TABLE child ADD COLUMN flag boolean NOT NULL;
-- form: add-column-not-null-no-default-empty
-- setup: CREATE TABLE empty_t (id int);
ALTER TABLE empty_t ADD COLUMN flag boolean NOT NULL;
-- form: add-column-check
ALTER TABLE child ADD COLUMN c int CHECK (c > 0);
-- form: add-column-default-check
ALTER TABLE child ADD COLUMN c int DEFAULT 1 CHECK (c > 0);
-- form: add-column-unique
ALTER TABLE child ADD COLUMN c int UNIQUE;
-- form: add-column-primary-key-refused
ALTER TABLE child ADD COLUMN c int PRIMARY KEY;
-- form: add-column-volatile-default-check
ALTER TABLE child ADD COLUMN r float8 DEFAULT random() CHECK (r >= 0);
-- form: add-column-volatile-user-fn-default
-- f_volatile is declared VOLATILE but its body is SELECT 1: PostgreSQL inlines it into a constant, nothing is rewritten
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile();
-- form: add-column-volatile-user-fn-volatile-body
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile_body();
-- form: add-column-volatile-user-fn-security-definer
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile_definer();
-- form: add-column-volatile-user-fn-plpgsql
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile_plpgsql();
-- form: add-column-volatile-user-fn-sql-standard-body
-- since: 14
-- setup: CREATE FUNCTION f_volatile_return() RETURNS int LANGUAGE sql VOLATILE RETURN 2;
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile_return();
-- form: add-column-volatile-user-fn-with-set
-- setup: CREATE FUNCTION f_volatile_set() RETURNS int LANGUAGE sql VOLATILE SET search_path = public AS 'SELECT 1';
ALTER TABLE child ADD COLUMN c int DEFAULT f_volatile_set();
-- form: varchar-widen
ALTER TABLE parent ALTER COLUMN code TYPE varchar(40);
-- form: varchar-widen-with-check
ALTER TABLE child ALTER COLUMN label TYPE varchar(40);
-- form: varchar-widen-with-expression-index
-- setup: ALTER TABLE child DROP CONSTRAINT child_label_check;
ALTER TABLE child ALTER COLUMN label TYPE varchar(40);
-- form: varchar-to-text-with-check
ALTER TABLE child ALTER COLUMN label TYPE text;
-- form: varchar-narrow
ALTER TABLE parent ALTER COLUMN code TYPE varchar(20);
-- form: varchar-unlimited
ALTER TABLE parent ALTER COLUMN code TYPE varchar;
-- form: text-to-varchar
ALTER TABLE child ALTER COLUMN note TYPE varchar(100);
-- form: int-to-bigint
ALTER TABLE child ALTER COLUMN qty TYPE bigint;
-- form: int-to-check-domain
ALTER TABLE child ALTER COLUMN qty TYPE posint;
-- form: bit-to-varbit
ALTER TABLE child ALTER COLUMN bits TYPE varbit;
-- form: bit-to-longer-bit
ALTER TABLE child ALTER COLUMN bits TYPE bit(8) USING bits::bit(8);
-- form: timestamp-to-timestamptz
ALTER TABLE child ALTER COLUMN ts TYPE timestamptz;
-- form: timestamp-to-timestamptz-utc
-- setup: SET TimeZone = 'UTC';
ALTER TABLE child ALTER COLUMN ts TYPE timestamptz;
-- form: text-to-int-using
-- setup: UPDATE child SET note = '1';
ALTER TABLE child ALTER COLUMN note TYPE int USING note::int;
-- form: numeric-widen-precision
-- setup: ALTER TABLE grandchild ADD COLUMN amount numeric(10, 2);
ALTER TABLE grandchild ALTER COLUMN amount TYPE numeric(12, 2);
-- form: numeric-change-scale
-- setup: ALTER TABLE grandchild ADD COLUMN amount numeric(10, 2);
ALTER TABLE grandchild ALTER COLUMN amount TYPE numeric(10, 3);
-- form: numeric-to-unconstrained
-- setup: ALTER TABLE grandchild ADD COLUMN amount numeric(10, 2);
ALTER TABLE grandchild ALTER COLUMN amount TYPE numeric;
-- form: alter-type-collate
ALTER TABLE app.parent ALTER COLUMN name TYPE text COLLATE "C";
-- form: alter-type-with-index
ALTER TABLE grandchild ALTER COLUMN child_id TYPE bigint;
-- form: domain-column-to-base-type
ALTER TABLE uses_domain ALTER COLUMN p TYPE int;
-- form: enum-column-to-text
ALTER TABLE diary ALTER COLUMN m TYPE text;
-- form: set-not-null-plain
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: set-not-null-proven-by-check
-- setup: ALTER TABLE child ADD CONSTRAINT note_nn CHECK (note IS NOT NULL);
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: set-not-null-not-valid-check
-- setup: ALTER TABLE child ADD CONSTRAINT note_nn CHECK (note IS NOT NULL) NOT VALID;
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: drop-not-null
-- setup: ALTER TABLE child ALTER COLUMN ts SET NOT NULL;
ALTER TABLE child ALTER COLUMN ts DROP NOT NULL;
-- form: add-pk-using-index-nullable
-- setup: ALTER TABLE grandchild DROP CONSTRAINT grandchild_pkey;
-- setup: CREATE UNIQUE INDEX gc_child_uq ON grandchild (child_id);
ALTER TABLE grandchild ADD CONSTRAINT gc_pk PRIMARY KEY USING INDEX gc_child_uq;
-- form: add-pk-using-index-not-null
-- setup: ALTER TABLE grandchild DROP CONSTRAINT grandchild_pkey;
-- setup: CREATE UNIQUE INDEX gc_id_uq ON grandchild (id);
ALTER TABLE grandchild ADD CONSTRAINT gc_pk PRIMARY KEY USING INDEX gc_id_uq;
-- form: add-unique-using-index
-- setup: CREATE UNIQUE INDEX parent_code_uq ON parent (code);
ALTER TABLE parent ADD CONSTRAINT parent_code_key UNIQUE USING INDEX parent_code_uq;
-- form: add-unique
ALTER TABLE parent ADD CONSTRAINT parent_code_key UNIQUE (code);
-- form: add-primary-key
-- setup: ALTER TABLE grandchild DROP CONSTRAINT grandchild_pkey;
ALTER TABLE grandchild ADD PRIMARY KEY (id);
-- form: add-check
ALTER TABLE child ADD CONSTRAINT qty_small CHECK (qty < 100000);
-- form: add-check-not-valid
ALTER TABLE child ADD CONSTRAINT qty_small CHECK (qty < 100000) NOT VALID;
-- form: validate-check
-- setup: ALTER TABLE child ADD CONSTRAINT qty_small CHECK (qty < 100000) NOT VALID;
ALTER TABLE child VALIDATE CONSTRAINT qty_small;
-- form: add-exclusion
-- setup: CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE grandchild ADD CONSTRAINT gc_excl EXCLUDE USING gist (child_id WITH =);
-- form: set-access-method-heap
-- since: 15
ALTER TABLE child SET ACCESS METHOD heap;
-- form: set-logged
-- setup: CREATE UNLOGGED TABLE scratch (id int);
ALTER TABLE scratch SET LOGGED;
-- form: set-unlogged
ALTER TABLE grandchild SET UNLOGGED;
-- form: cluster-table
CLUSTER child USING child_parent_idx;
-- form: vacuum-full
-- autocommit
-- hold: SELECT 1 FROM grandchild WHERE id = 1
VACUUM FULL grandchild;
-- form: set-storage
ALTER TABLE child ALTER COLUMN note SET STORAGE EXTERNAL;
-- form: set-compression
-- since: 14
ALTER TABLE child ALTER COLUMN note SET COMPRESSION pglz;
-- form: drop-expression
-- setup: ALTER TABLE child ADD COLUMN qty2 int GENERATED ALWAYS AS (qty * 2) STORED;
ALTER TABLE child ALTER COLUMN qty2 DROP EXPRESSION;
-- form: add-identity-to-column
-- setup: ALTER TABLE grandchild ALTER COLUMN child_id SET NOT NULL;
ALTER TABLE grandchild ALTER COLUMN child_id ADD GENERATED BY DEFAULT AS IDENTITY;
-- form: drop-identity
-- setup: ALTER TABLE grandchild ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE grandchild ALTER COLUMN n DROP IDENTITY;
-- form: set-without-oids-noop
ALTER TABLE child SET WITHOUT OIDS;
