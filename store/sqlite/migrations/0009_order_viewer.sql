-- Vitrine schema version 9, SQLite: the viewer an order came from, when
-- the shop names one (store.Order.ViewerID: the player's viewer id;
-- store.Order.SessionID: the player page's session id). Empty when the
-- shop named none, as for the orders recorded before.

ALTER TABLE orders ADD COLUMN viewer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
