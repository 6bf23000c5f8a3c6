package server

import (
	"context"
	"fmt"
	"path/filepath"

	"vitrine/configs"
	"vitrine/store"
	"vitrine/store/postgres"
	"vitrine/store/sqlite"
)

// openStore opens PostgreSQL when store.url is set, the embedded SQLite in
// the data directory otherwise; either applies its migrations.
func openStore(ctx context.Context, cfg *configs.Config) (store.Store, string, error) {
	if cfg.Store.URL != "" {
		st, err := postgres.Open(ctx, cfg.Store.URL)
		if err != nil {
			return nil, "", fmt.Errorf("store: %w", err)
		}
		return st, "postgres", nil
	}
	path := filepath.Join(cfg.Data.Dir, "vitrine.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	return st, "sqlite " + path, nil
}
