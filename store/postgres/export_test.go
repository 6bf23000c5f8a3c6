package postgres

import "vitrine/store/internal/sqlstore"

// Migrations are the embedded migrations, for the tests of package
// postgres_test.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrations, "migrations")
}
