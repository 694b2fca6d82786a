-- Changes to an existing table: "café" has a multi-byte name.
CREATE INDEX "café_idx" ON orders (customer_id);

ALTER TABLE orders ADD COLUMN note text NOT NULL;

ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);

-- pgdiplomat:ignore require-concurrent-index-deletion dropped during a maintenance window
DROP INDEX orders_old_idx;

-- pgdiplomat:ignore no-such-rule because
UPDATE orders SET note = '';
