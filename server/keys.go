package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"vitrine/configs"
	"vitrine/server/stream"
)

// staticKeys authorises publishers against the streams declared in config,
// until campaigns in the store take over.
type staticKeys struct {
	byID map[string]string // id -> key
}

// loadKeys resolves the declared streams' keys, generating and storing in
// dataDir/keys the ones left empty. It returns the streams whose key was
// generated now, so their key can be shown once.
func loadKeys(streams []configs.StreamKey, dataDir string, log *slog.Logger) (*staticKeys, error) {
	k := &staticKeys{byID: map[string]string{}}
	dir := filepath.Join(dataDir, "keys")
	for _, s := range streams {
		key := s.Key
		if key == "" {
			path := filepath.Join(dir, s.ID+".key")
			b, err := os.ReadFile(path)
			switch {
			case err == nil:
				key = strings.TrimSpace(string(b))
				log.Info("stream key loaded", "stream", s.ID, "file", path)
			case errors.Is(err, os.ErrNotExist):
				key, err = newKey()
				if err != nil {
					return nil, err
				}
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return nil, fmt.Errorf("keys directory: %w", err)
				}
				if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
					return nil, fmt.Errorf("store key of stream %s: %w", s.ID, err)
				}
				log.Warn("stream key generated; it is shown once and kept in the data directory",
					"stream", s.ID, "key", key, "file", path)
			default:
				return nil, fmt.Errorf("read key of stream %s: %w", s.ID, err)
			}
		}
		k.byID[s.ID] = key
	}
	return k, nil
}

func newKey() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return "sk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// AuthorizePublish compares in constant time against every key so that
// timing tells nothing about which prefix matched.
func (k *staticKeys) AuthorizePublish(_ context.Context, req stream.PublishRequest) (string, error) {
	found := ""
	for id, key := range k.byID {
		if subtle.ConstantTimeCompare([]byte(key), []byte(req.Key)) == 1 {
			found = id
		}
	}
	if found == "" || (req.StreamID != "" && req.StreamID != found) {
		return "", stream.ErrUnauthorized
	}
	return found, nil
}

// Key returns the key of a declared stream (for printing ingest URLs).
func (k *staticKeys) Key(id string) string { return k.byID[id] }
