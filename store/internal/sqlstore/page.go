package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vitrine/store"
)

// Page sizes. A limit out of range is clamped rather than refused: the
// caller asked for "some" rows and gets a sensible number of them.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// limitOf clamps a requested page size to [1, MaxLimit], 0 (or less) meaning
// DefaultLimit.
func limitOf(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// cursor is a keyset position: the sort value and id of the last row of
// the previous page. Keysets, unlike offsets, neither skip nor repeat rows
// when rows are inserted or deleted between two pages. Scope names the list
// and sort the cursor belongs to, so a cursor of one list is refused by
// another instead of silently meaning something else.
type cursor struct {
	Scope string `json:"s"`
	Text  string `json:"x,omitempty"` // text sort value
	Time  int64  `json:"t,omitempty"` // time sort value, Unix microseconds
	ID    string `json:"i"`
}

// encode returns the cursor as an opaque, URL-safe string.
func (c cursor) encode() string {
	b, _ := json.Marshal(c) // cannot fail: strings and an integer
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses s, which must have been issued for scope.
func decodeCursor(s, scope string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, fmt.Errorf("cursor is not base64url: %w", store.ErrInvalidCursor)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil || d.More() {
		return c, fmt.Errorf("cursor is malformed: %w", store.ErrInvalidCursor)
	}
	if c.Scope != scope || c.ID == "" {
		return c, fmt.Errorf("cursor was not issued for this list: %w", store.ErrInvalidCursor)
	}
	return c, nil
}

// sortKey is the column a list is ordered by; ties break on id, in the
// same direction.
type sortKey struct {
	col  string // as it appears in ORDER BY, collation included
	desc bool
	time bool // a time column (cursor.Time), else text (cursor.Text)
}

// sel accumulates the WHERE conditions and arguments of a query.
type sel struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (s *sel) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

func (s *sel) where(cond string) { s.conds = append(s.conds, cond) }

func (s *sel) clause() string {
	if len(s.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(s.conds, " AND ")
}

// placeholders adds ids as arguments and returns "$i, $j, ..." for IN (...).
func (s *sel) placeholders(ids []string) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = s.arg(id)
	}
	return strings.Join(ph, ", ")
}

type rowScanner interface{ Scan(dest ...any) error }

// listSpec describes one paginated list.
type listSpec[T any] struct {
	scope string // cursor scope: list name, sort and any fixed filter
	cols  string
	from  string
	key   sortKey
	scan  func(rowScanner, *T) error
	// keyOf returns the sort value of a row (a string or a time.Time) and its id.
	keyOf func(*T) (any, string)
}

// list returns, through q, one page of spec's rows matching s, and the cursor of the
// next page ("" after the last one).
func list[T any](ctx context.Context, db *DB, q querier, spec listSpec[T], s *sel, p store.Page) ([]T, string, error) {
	limit := limitOf(p.Limit)
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor, spec.scope)
		if err != nil {
			return nil, "", err
		}
		var v string
		if spec.key.time {
			v = s.arg(db.timeArg(time.UnixMicro(c.Time)))
		} else {
			v = s.arg(c.Text)
		}
		id := s.arg(c.ID)
		op := ">"
		if spec.key.desc {
			op = "<"
		}
		s.where(fmt.Sprintf("(%[1]s %[2]s %[3]s OR (%[1]s = %[3]s AND id %[2]s %[4]s))", spec.key.col, op, v, id))
	}
	dir := ""
	if spec.key.desc {
		dir = " DESC"
	}
	query := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s%s, id%s LIMIT %s",
		spec.cols, spec.from, s.clause(), spec.key.col, dir, dir, s.arg(limit+1))
	rows, err := q.QueryContext(ctx, query, s.args...)
	if err != nil {
		return nil, "", db.fail(err, "list "+spec.scope, "", "")
	}
	defer rows.Close()
	out := make([]T, 0, min(limit, 16))
	for rows.Next() {
		var v T
		if err := spec.scan(rows, &v); err != nil {
			return nil, "", db.fail(err, "scan "+spec.scope, "", "")
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", db.fail(err, "list "+spec.scope, "", "")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		c := cursor{Scope: spec.scope}
		var v any
		v, c.ID = spec.keyOf(&out[limit-1])
		switch v := v.(type) {
		case time.Time:
			c.Time = v.UnixMicro()
		case string:
			c.Text = v
		}
		next = c.encode()
	}
	return out, next, nil
}
