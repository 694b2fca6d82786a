-- Storage parameters: PostgreSQL takes a different lock per option (AlterTableGetRelOptionsLockLevel).

-- form: table-set-fillfactor
ALTER TABLE child SET (fillfactor = 80);
-- form: table-set-autovacuum-enabled
ALTER TABLE child SET (autovacuum_enabled = false);
-- form: table-set-autovacuum-vacuum-scale-factor
ALTER TABLE child SET (autovacuum_vacuum_scale_factor = 0.01);
-- form: table-set-autovacuum-analyze-threshold
ALTER TABLE child SET (autovacuum_analyze_threshold = 100);
-- form: table-set-autovacuum-freeze-max-age
ALTER TABLE child SET (autovacuum_freeze_max_age = 100000000);
-- form: table-set-toast-tuple-target
ALTER TABLE child SET (toast_tuple_target = 256);
-- form: table-set-parallel-workers
ALTER TABLE child SET (parallel_workers = 2);
-- form: table-set-user-catalog-table
ALTER TABLE child SET (user_catalog_table = true);
-- form: table-set-log-autovacuum-min-duration
ALTER TABLE child SET (log_autovacuum_min_duration = 0);
-- form: table-set-vacuum-truncate
ALTER TABLE child SET (vacuum_truncate = false);
-- form: table-set-vacuum-index-cleanup
ALTER TABLE child SET (vacuum_index_cleanup = off);
-- form: table-set-autovacuum-vacuum-insert-threshold
-- since: 13
ALTER TABLE child SET (autovacuum_vacuum_insert_threshold = 1000);
-- form: table-set-toast-autovacuum-enabled
ALTER TABLE child SET (toast.autovacuum_enabled = false);
-- form: table-set-two-options
ALTER TABLE child SET (fillfactor = 80, autovacuum_enabled = false);
-- form: table-set-mixed-options
ALTER TABLE child SET (autovacuum_enabled = false, user_catalog_table = true);
-- form: table-reset-fillfactor
ALTER TABLE child RESET (fillfactor);
-- form: table-reset-user-catalog-table
ALTER TABLE child RESET (user_catalog_table);
-- form: partitioned-set-fillfactor-refused
ALTER TABLE events SET (fillfactor = 80);
-- form: partition-set-autovacuum
ALTER TABLE events_2025 SET (autovacuum_enabled = false);
-- form: btree-index-set-fillfactor
ALTER INDEX child_parent_idx SET (fillfactor = 70);
-- form: btree-index-set-deduplicate-items
ALTER INDEX child_parent_idx SET (deduplicate_items = off);
-- form: btree-index-reset-fillfactor
ALTER INDEX child_parent_idx RESET (fillfactor);
-- form: gin-index-set-fastupdate
ALTER INDEX docs_tags_gin SET (fastupdate = off);
-- form: gin-index-set-pending-list-limit
ALTER INDEX docs_tags_gin SET (gin_pending_list_limit = 1024);
-- form: gist-index-set-buffering
ALTER INDEX docs_body_trgm SET (buffering = off);
-- form: gist-index-set-fillfactor
ALTER INDEX docs_body_trgm SET (fillfactor = 80);
-- form: brin-index-set-pages-per-range
ALTER INDEX docs_id_brin SET (pages_per_range = 64);
-- form: brin-index-set-autosummarize
ALTER INDEX docs_id_brin SET (autosummarize = on);
-- form: view-set-security-barrier
ALTER VIEW parent_vv SET (security_barrier = true);
-- form: view-set-security-invoker
-- since: 15
ALTER VIEW parent_vv SET (security_invoker = true);
-- form: view-reset-security-barrier
ALTER VIEW parent_vv RESET (security_barrier);
-- form: matview-set-fillfactor
ALTER MATERIALIZED VIEW source_mv SET (fillfactor = 90);
-- form: matview-set-autovacuum
ALTER MATERIALIZED VIEW source_mv SET (autovacuum_enabled = false);
-- form: create-index-with-fillfactor
CREATE INDEX child_qty_ff ON child (qty) WITH (fillfactor = 70);
-- form: create-table-with-options
CREATE TABLE tuned (id int) WITH (fillfactor = 70, autovacuum_enabled = false);
