package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// secretFile returns the secret kept in path, generating it with prefix on
// first use. A generated secret is logged once, since it exists nowhere
// else; later starts only say where it is.
func secretFile(path, prefix, what string, log *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret := strings.TrimSpace(string(b))
		if secret == "" {
			return "", fmt.Errorf("%s file %s is empty: delete it to generate a new one", what, path)
		}
		log.Info(what+" loaded", "file", path)
		return secret, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	secret, err := newSecret(prefix)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("store %s: %w", what, err)
	}
	// O_EXCL: two processes starting on one data directory must not each
	// print a different secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("store %s: %w", what, err)
	}
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("store %s: %w", what, err)
	}
	log.Warn(what+" generated; it is shown once and kept in the data directory", "value", secret, "file", path)
	return secret, nil
}

func newSecret(prefix string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}
