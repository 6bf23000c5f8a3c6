package server

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"path/filepath"

	"vitrine/configs"
	"vitrine/stream"
)

// staticKeys authorises publishers against the streams declared in config,
// until campaigns in the store take over.
type staticKeys struct {
	byID map[string]string // id -> key
}

// loadKeys resolves the declared streams' keys, generating and storing in
// dataDir/keys the ones left empty.
func loadKeys(streams []configs.StreamKey, dataDir string, log *slog.Logger) (*staticKeys, error) {
	k := &staticKeys{byID: map[string]string{}}
	for _, s := range streams {
		key := s.Key
		if key == "" {
			var err error
			key, err = secretFile(filepath.Join(dataDir, "keys", s.ID+".key"), "sk_", "stream key of "+s.ID, log)
			if err != nil {
				return nil, err
			}
		}
		k.byID[s.ID] = key
	}
	return k, nil
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
