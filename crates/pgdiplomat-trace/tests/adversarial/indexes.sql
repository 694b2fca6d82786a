-- Indexes: access methods, expression and partial indexes, CONCURRENTLY, REINDEX.

-- form: create-index-expression
CREATE INDEX child_upper_note ON child (upper(note));
-- form: create-index-partial
CREATE INDEX child_big_qty ON child (qty) WHERE qty > 400;
-- form: create-index-gin
CREATE INDEX docs_tags_gin2 ON docs USING gin (tags);
-- form: create-index-brin
CREATE INDEX docs_id_brin2 ON docs USING brin (id);
-- form: create-index-hash
CREATE INDEX parent_code_hash ON parent USING hash (code);
-- form: create-unique-index
CREATE UNIQUE INDEX parent_code_uq ON parent (code);
-- form: create-index-include
CREATE INDEX child_parent_incl ON child (parent_id) INCLUDE (qty);
-- form: create-index-second-schema
CREATE INDEX app_orders_parent_idx ON app.orders (parent_id);
-- form: create-index-on-inheritance-child
CREATE INDEX car_doors_idx ON car (doors);
-- form: create-index-concurrently
-- autocommit
CREATE INDEX CONCURRENTLY child_note_idx ON child (note);
-- form: create-unique-index-concurrently
-- autocommit
CREATE UNIQUE INDEX CONCURRENTLY parent_code_uq ON parent (code);
-- form: create-index-concurrently-partition
-- autocommit
CREATE INDEX CONCURRENTLY events_2025_kind_idx ON events_2025 (kind);
-- form: drop-index-concurrently
-- autocommit
-- hold: SELECT 1 FROM child WHERE id = 1
DROP INDEX CONCURRENTLY child_partial_idx;
-- form: drop-index
DROP INDEX child_partial_idx;
-- form: drop-index-backing-fk-target-refused
DROP INDEX parent_pkey;
-- form: reindex-index
REINDEX INDEX child_parent_idx;
-- form: reindex-table
REINDEX TABLE child;
-- form: reindex-index-concurrently
-- autocommit
REINDEX INDEX CONCURRENTLY child_parent_idx;
-- form: reindex-table-concurrently
-- autocommit
REINDEX TABLE CONCURRENTLY grandchild;
-- form: reindex-partitioned-index
-- autocommit
-- since: 14
REINDEX INDEX events_at_idx;
-- form: alter-index-rename-partitioned
ALTER INDEX events_at_idx RENAME TO events_at_idx2;
-- form: attach-index-partition
-- setup: CREATE INDEX events_kind_idx ON ONLY events (kind);
-- setup: CREATE INDEX events_2025_kind_idx ON events_2025 (kind);
ALTER INDEX events_kind_idx ATTACH PARTITION events_2025_kind_idx;
-- form: cluster-recheck
-- setup: ALTER TABLE child CLUSTER ON child_parent_idx;
CLUSTER child;
-- form: vacuum-plain
-- autocommit
-- setup: SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 1;
-- hold: LOCK TABLE child IN SHARE UPDATE EXCLUSIVE MODE
VACUUM child;
-- form: vacuum-analyze
-- autocommit
-- setup: SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 1;
-- hold: LOCK TABLE child IN SHARE UPDATE EXCLUSIVE MODE
VACUUM ANALYZE child;
-- form: analyze-table
ANALYZE child;
-- form: analyze-partitioned
ANALYZE events;
