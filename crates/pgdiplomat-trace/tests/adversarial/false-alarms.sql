-- Changes that look dangerous and are not: PostgreSQL neither rewrites nor scans.

-- form: default-txid-current
ALTER TABLE child ADD COLUMN x bigint DEFAULT txid_current();
-- form: default-pg-current-xact-id
-- since: 13
ALTER TABLE child ADD COLUMN x xid8 DEFAULT pg_current_xact_id();
-- form: default-to-char-now
ALTER TABLE child ADD COLUMN x text DEFAULT to_char(now(), 'YYYY');
-- form: default-current-timestamp
ALTER TABLE child ADD COLUMN x timestamptz DEFAULT CURRENT_TIMESTAMP;
-- form: default-current-date
ALTER TABLE child ADD COLUMN x date DEFAULT current_date;
-- form: default-current-user
ALTER TABLE child ADD COLUMN x text DEFAULT current_user;
-- form: default-localtimestamp
ALTER TABLE child ADD COLUMN x timestamp DEFAULT localtimestamp;
-- form: default-statement-timestamp
ALTER TABLE child ADD COLUMN x timestamptz DEFAULT statement_timestamp();
-- form: default-immutable-user-function
ALTER TABLE child ADD COLUMN x int DEFAULT f_immutable(41);
-- form: default-stable-user-function
ALTER TABLE child ADD COLUMN x int DEFAULT f_stable();
-- form: default-cast-expression
ALTER TABLE child ADD COLUMN x numeric DEFAULT '1.5'::numeric;
-- form: default-arithmetic
ALTER TABLE child ADD COLUMN x int DEFAULT 2 * 21;
-- form: default-jsonb-literal
ALTER TABLE child ADD COLUMN x jsonb DEFAULT '{}'::jsonb;
-- form: default-array-constructor
ALTER TABLE child ADD COLUMN x int[] DEFAULT ARRAY[1, 2];
-- form: default-coalesce-constants
ALTER TABLE child ADD COLUMN x int DEFAULT coalesce(NULL, 3);
-- form: default-interval
ALTER TABLE child ADD COLUMN x interval DEFAULT interval '1 day';
-- form: default-enum-cast
ALTER TABLE child ADD COLUMN x mood DEFAULT 'happy'::mood;
-- form: default-null
ALTER TABLE child ADD COLUMN x int DEFAULT NULL;
-- form: bit4-to-varbit
ALTER TABLE child ALTER COLUMN bits TYPE bit varying;
-- form: bit4-to-varbit4
ALTER TABLE child ALTER COLUMN bits TYPE varbit(4);
-- form: int-to-constraint-free-domain
ALTER TABLE child ALTER COLUMN qty TYPE plain_int;
-- form: no-op-using-cast
ALTER TABLE parent ALTER COLUMN code TYPE varchar(30) USING code::varchar(30);
-- form: no-op-same-type
ALTER TABLE parent ALTER COLUMN code TYPE varchar(30);
-- form: varchar-widen-no-check
ALTER TABLE parent ALTER COLUMN code TYPE varchar(31);
-- form: varchar-to-text-no-check
ALTER TABLE parent ALTER COLUMN code TYPE text;
-- form: text-to-varchar-unlimited
ALTER TABLE child ALTER COLUMN note TYPE varchar;
-- form: cidr-to-inet
-- setup: ALTER TABLE grandchild ADD COLUMN net cidr;
ALTER TABLE grandchild ALTER COLUMN net TYPE inet;
-- form: numeric-precision-widen-same-scale
-- setup: ALTER TABLE grandchild ADD COLUMN amount numeric(10, 2);
ALTER TABLE grandchild ALTER COLUMN amount TYPE numeric(14, 2);
-- form: timestamp-precision-widen
-- setup: ALTER TABLE grandchild ADD COLUMN t timestamp(3);
ALTER TABLE grandchild ALTER COLUMN t TYPE timestamp(6);
-- form: timestamptz-to-timestamp-utc
-- setup: ALTER TABLE grandchild ADD COLUMN t timestamptz;
-- setup: SET TimeZone = 'UTC';
ALTER TABLE grandchild ALTER COLUMN t TYPE timestamp;
-- form: check-not-is-null-proves-not-null
-- setup: ALTER TABLE child ADD CONSTRAINT note_nn CHECK (NOT (note IS NULL));
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: check-is-not-null-and-more-proves-not-null
-- setup: ALTER TABLE child ADD CONSTRAINT note_nn CHECK (note IS NOT NULL AND length(note) > 0);
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: check-is-not-null-uppercase-proves-not-null
-- setup: ALTER TABLE child ADD CONSTRAINT "NoteNN" CHECK ("note" IS NOT NULL);
ALTER TABLE child ALTER COLUMN note SET NOT NULL;
-- form: set-not-null-already-not-null
ALTER TABLE child ALTER COLUMN id SET NOT NULL;
-- form: set-access-method-current
-- since: 15
ALTER TABLE grandchild SET ACCESS METHOD heap;
-- form: add-column-if-not-exists-existing
ALTER TABLE child ADD COLUMN IF NOT EXISTS qty int;
-- form: drop-column-if-exists-missing
ALTER TABLE child DROP COLUMN IF EXISTS nothing_here;
-- form: create-index-if-not-exists-existing
CREATE INDEX IF NOT EXISTS child_parent_idx ON child (parent_id);
-- form: create-table-if-not-exists-existing
CREATE TABLE IF NOT EXISTS child (id int);
-- form: drop-table-if-exists-missing
DROP TABLE IF EXISTS no_such_table;
-- form: drop-index-if-exists-missing
DROP INDEX IF EXISTS no_such_index;
-- form: add-column-empty-table-volatile-default
-- setup: CREATE TABLE empty_t (id int);
ALTER TABLE empty_t ADD COLUMN r float8 DEFAULT random();
