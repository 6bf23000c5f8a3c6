-- Vitrine schema version 1, SQLite.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC: exact at the
-- store's precision and compared as numbers. Money is TEXT, exactly as the
-- API gave it. Lists (images, webhook events, order items) are JSON text.
-- Booleans are 0/1. STRICT tables refuse a value of the wrong type instead
-- of storing it anyway.

CREATE TABLE products (
    id         TEXT PRIMARY KEY,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    category   TEXT NOT NULL,
    price      TEXT NOT NULL,
    currency   TEXT NOT NULL,
    image_url  TEXT NOT NULL,
    stock      INTEGER NOT NULL,
    url        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX products_sku_key ON products (sku) WHERE sku <> '';
CREATE INDEX products_name ON products (name, id);
CREATE INDEX products_category ON products (category, name, id);

CREATE TABLE vouchers (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    discount_type  TEXT NOT NULL,
    discount_value TEXT NOT NULL,
    currency       TEXT NOT NULL,
    min_spend      TEXT NOT NULL,
    quantity       INTEGER NOT NULL,
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX vouchers_code_key ON vouchers (code) WHERE code <> '';
CREATE INDEX vouchers_name ON vouchers (name, id);

CREATE TABLE campaigns (
    id                     TEXT PRIMARY KEY,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    images                 TEXT NOT NULL,
    starts_at              INTEGER NOT NULL,
    ends_at                INTEGER NOT NULL,
    visibility             TEXT NOT NULL,
    notify_at_creation     INTEGER NOT NULL,
    notify_before_start_us INTEGER NOT NULL,
    notified_before_start  INTEGER NOT NULL,
    published              INTEGER NOT NULL,
    stream_key             TEXT NOT NULL,
    live_started_at        INTEGER,
    live_ended_at          INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX campaigns_stream_key ON campaigns (stream_key);
CREATE INDEX campaigns_starts_at ON campaigns (starts_at, id);
CREATE INDEX campaigns_created_at ON campaigns (created_at, id);
CREATE INDEX campaigns_title ON campaigns (title, id);

-- A campaign's products and vouchers, in display order (position).
CREATE TABLE campaign_products (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, product_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX campaign_products_product ON campaign_products (product_id);

CREATE TABLE campaign_vouchers (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    voucher_id  TEXT NOT NULL REFERENCES vouchers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, voucher_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX campaign_vouchers_voucher ON campaign_vouchers (voucher_id);

-- Orders keep their items as JSON: they are written once, read whole, and
-- must survive the deletion of a product they name.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    campaign_id     TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    code            TEXT NOT NULL,
    items           TEXT NOT NULL,
    customer_name   TEXT NOT NULL,
    total           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX orders_idempotency_key ON orders (campaign_id, idempotency_key) WHERE idempotency_key <> '';
CREATE UNIQUE INDEX orders_code_key ON orders (campaign_id, code) WHERE code <> '';
CREATE INDEX orders_campaign ON orders (campaign_id, created_at, id);

CREATE TABLE reminders (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    opt_in      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (campaign_id, phone)
) STRICT;
CREATE INDEX reminders_campaign ON reminders (campaign_id, created_at, id);

CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_created_at ON webhooks (created_at, id);

-- The webhook outbox. The payload is a BLOB: its signature covers its
-- exact bytes.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
) STRICT;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at, id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, created_at, id) WHERE status = 'pending';
