package sqlstore

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// idEncoding is lower-case Crockford base32: no padding, no letters that
// read like digits, safe in URLs and file names.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns prefix followed by 20 random base32 characters (100 bits
// from crypto/rand): unguessable, so ids can appear in public URLs, and
// collision-free without coordination between nodes.
func newID(prefix string) string {
	var b [13]byte // 104 bits, encoded to 21 characters, cut to 20
	_, _ = rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])[:20]
}

// newStreamKey returns a secret stream key (160 random bits).
func newStreamKey() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return "sk_" + idEncoding.EncodeToString(b[:])
}

// newWebhookSecret returns a Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes.
func newWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// normTime is t as the store keeps it: UTC, truncated to the microsecond, the
// precision both databases hold, so that what is read back equals (==, and
// reflect.DeepEqual) what was written.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

func now() time.Time { return normTime(time.Now()) }

// timeArg binds t with the dialect's encoding.
func (db *DB) timeArg(t time.Time) any { return db.d.TimeArg(normTime(t)) }

// nullTimeArg binds t, or NULL when t is nil.
func (db *DB) nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.timeArg(*t)
}

// timeScanner reads a time column whatever its encoding: integer
// microseconds since the Unix epoch (SQLite) or a time.Time (PostgreSQL).
// With null set, NULL reads as a nil *time.Time.
type timeScanner struct {
	t    *time.Time
	tp   **time.Time
	null bool
}

func scanTime(t *time.Time) *timeScanner      { return &timeScanner{t: t} }
func scanNullTime(t **time.Time) *timeScanner { return &timeScanner{tp: t, null: true} }

func (s *timeScanner) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if !s.null {
			return fmt.Errorf("NULL in a NOT NULL time column")
		}
		*s.tp = nil
		return nil
	case int64:
		t = time.UnixMicro(v).UTC()
	case time.Time:
		t = normTime(v)
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	if s.null {
		*s.tp = &t
	} else {
		*s.t = t
	}
	return nil
}

// jsonArg encodes v (a slice) as a JSON column value.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// jsonScanner decodes a JSON column (TEXT on SQLite, jsonb on PostgreSQL)
// into v.
type jsonScanner struct{ v any }

func (s jsonScanner) Scan(src any) error {
	var b []byte
	switch x := src.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("JSON column holds %T", src)
	}
	return json.Unmarshal(b, s.v)
}

// nonNil returns s, or an empty slice for nil: lists are always JSON
// arrays, never null, and read back equal to what was written.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
