package overlay

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Identity issues and checks anonymous viewer ids. A viewer's token is its
// id and an HMAC of it, so a viewer cannot speak as another (a ban sticks
// to the id) and every node that shares the key accepts every node's
// tokens without a lookup.
type Identity struct {
	key []byte
}

// ErrBadViewerToken: a token this server did not issue.
var ErrBadViewerToken = errors.New("bad viewer token")

// NewIdentity returns an Identity keyed by secret (at least 16 bytes;
// nodes of one cluster need the same). A nil secret draws a random key:
// tokens then hold for this process only.
func NewIdentity(secret []byte) (*Identity, error) {
	if secret == nil {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	if len(secret) < 16 {
		return nil, errors.New("overlay: the viewer id secret needs at least 16 bytes")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vitrine viewer id v1"))
	return &Identity{key: m.Sum(nil)}, nil
}

// Issue returns a new viewer id and its token.
func (i *Identity) Issue() (id, token string) {
	id = newID("v_")
	return id, id + "." + i.sign(id)
}

// ValidViewerID says whether id has the form of the ids Issue gives (v_
// and base32 of the id alphabet), as a host's ban must name one.
func ValidViewerID(id string) bool {
	rest, ok := strings.CutPrefix(id, "v_")
	if !ok || rest == "" || len(rest) > 40 {
		return false
	}
	for _, r := range rest {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", r) {
			return false
		}
	}
	return true
}

// Verify returns the viewer id of a token.
func (i *Identity) Verify(token string) (string, error) {
	id, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 80 || !strings.HasPrefix(id, "v_") || !hmac.Equal([]byte(sig), []byte(i.sign(id))) {
		return "", ErrBadViewerToken
	}
	return id, nil
}

func (i *Identity) sign(id string) string {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
