-- Vitrine schema version 1, PostgreSQL.
--
-- Times are timestamptz (microsecond precision, like the store). Money is
-- TEXT, exactly as the API gave it. Lists (images, webhook events, order
-- items) are jsonb. Names and titles are indexed COLLATE "C" because lists
-- sort bytewise (the same order as on SQLite, whatever the locale).

CREATE TABLE products (
    id         TEXT PRIMARY KEY,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    category   TEXT NOT NULL,
    price      TEXT NOT NULL,
    currency   TEXT NOT NULL,
    image_url  TEXT NOT NULL,
    stock      BIGINT NOT NULL,
    url        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX products_sku_key ON products (sku) WHERE sku <> '';
CREATE INDEX products_name ON products (name COLLATE "C", id);
CREATE INDEX products_category ON products (category, name COLLATE "C", id);

CREATE TABLE vouchers (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    discount_type  TEXT NOT NULL,
    discount_value TEXT NOT NULL,
    currency       TEXT NOT NULL,
    min_spend      TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    starts_at      TIMESTAMPTZ NOT NULL,
    ends_at        TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX vouchers_code_key ON vouchers (code) WHERE code <> '';
CREATE INDEX vouchers_name ON vouchers (name COLLATE "C", id);

CREATE TABLE campaigns (
    id                     TEXT PRIMARY KEY,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    images                 JSONB NOT NULL,
    starts_at              TIMESTAMPTZ NOT NULL,
    ends_at                TIMESTAMPTZ NOT NULL,
    visibility             TEXT NOT NULL,
    notify_at_creation     BOOLEAN NOT NULL,
    notify_before_start_us BIGINT NOT NULL,
    notified_before_start  BOOLEAN NOT NULL,
    published              BOOLEAN NOT NULL,
    stream_key             TEXT NOT NULL,
    live_started_at        TIMESTAMPTZ,
    live_ended_at          TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX campaigns_stream_key ON campaigns (stream_key);
CREATE INDEX campaigns_starts_at ON campaigns (starts_at, id);
CREATE INDEX campaigns_created_at ON campaigns (created_at, id);
CREATE INDEX campaigns_title ON campaigns (title COLLATE "C", id);

-- A campaign's products and vouchers, in display order (position).
CREATE TABLE campaign_products (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, product_id)
);
CREATE INDEX campaign_products_product ON campaign_products (product_id);

CREATE TABLE campaign_vouchers (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    voucher_id  TEXT NOT NULL REFERENCES vouchers (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, voucher_id)
);
CREATE INDEX campaign_vouchers_voucher ON campaign_vouchers (voucher_id);

-- Orders keep their items as JSON: they are written once, read whole, and
-- must survive the deletion of a product they name.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    campaign_id     TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    code            TEXT NOT NULL,
    items           JSONB NOT NULL,
    customer_name   TEXT NOT NULL,
    total           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX orders_idempotency_key ON orders (campaign_id, idempotency_key) WHERE idempotency_key <> '';
CREATE UNIQUE INDEX orders_code_key ON orders (campaign_id, code) WHERE code <> '';
CREATE INDEX orders_campaign ON orders (campaign_id, created_at, id);

CREATE TABLE reminders (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    opt_in      BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX reminders_campaign ON reminders (campaign_id, created_at, id);

CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_created_at ON webhooks (created_at, id);

-- The webhook outbox. The payload is bytea: its signature covers its
-- exact bytes.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    payload         BYTEA NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_status     BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at, id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, created_at, id) WHERE status = 'pending';
