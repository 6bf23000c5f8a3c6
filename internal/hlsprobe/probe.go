// Package hlsprobe reads an LL-HLS stream the way a low-latency player does
// (multivariant playlist, media playlist with blocking reload, parts) and
// measures it. Tests and the load tool use it.
//
// It imports no package of the project.
package hlsprobe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// maxPlaylist bounds what is read of a playlist.
const maxPlaylist = 1 << 20

// Client follows one stream.
type Client struct {
	HTTP  *http.Client
	Index string // URL of index.m3u8

	media *url.URL
}

// Media fetches the media playlist. With msn >= 0 it asks for a blocking
// reload until that media sequence number and part exist.
func (c *Client) Media(ctx context.Context, msn, part int) (*playlist.Media, error) {
	if c.media == nil {
		pl, base, err := c.fetch(ctx, c.Index)
		if err != nil {
			return nil, err
		}
		mv, ok := pl.(*playlist.Multivariant)
		if !ok || len(mv.Variants) == 0 {
			return nil, fmt.Errorf("%s: not a multivariant playlist with variants", c.Index)
		}
		ref, err := url.Parse(mv.Variants[0].URI)
		if err != nil {
			return nil, fmt.Errorf("variant URI: %w", err)
		}
		c.media = base.ResolveReference(ref)
	}
	u := *c.media
	if msn >= 0 {
		u.RawQuery = fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", msn, part)
	}
	pl, _, err := c.fetch(ctx, u.String())
	if err != nil {
		return nil, err
	}
	m, ok := pl.(*playlist.Media)
	if !ok {
		return nil, fmt.Errorf("%s: not a media playlist", u.String())
	}
	return m, nil
}

// Download reads a resource relative to the media playlist and returns its size.
func (c *Client) Download(ctx context.Context, uri string) (int64, error) {
	ref, err := url.Parse(uri)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.media.ResolveReference(ref).String(), nil)
	if err != nil {
		return 0, err
	}
	res, err := c.http().Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", uri, res.Status)
	}
	return n, err
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) fetch(ctx context.Context, u string) (playlist.Playlist, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.http().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxPlaylist))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, nil, &StatusError{URL: u, Code: res.StatusCode, Body: string(b)}
	}
	pl, err := playlist.Unmarshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", u, err)
	}
	return pl, res.Request.URL, nil
}

// StatusError is a non-200 answer.
type StatusError struct {
	URL  string
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %d %s", e.URL, e.Code, e.Body) }

// Edge is the live edge on the PROGRAM-DATE-TIME clock: the end of the last
// part announced. It is zero when the playlist has no date.
func Edge(m *playlist.Media) time.Time {
	if len(m.Segments) == 0 || m.Segments[len(m.Segments)-1].DateTime == nil {
		return time.Time{}
	}
	last := m.Segments[len(m.Segments)-1]
	edge := last.DateTime.Add(last.Duration)
	for _, p := range m.Parts {
		edge = edge.Add(p.Duration)
	}
	return edge
}

// Lag fetches the media playlist without blocking and returns how far its
// live edge (see Edge) is behind the wall clock when the playlist came:
// negative when the edge is ahead of it. (Not when it was asked for: the
// server holds the first request of a live until it has a segment.) dated
// is false when the playlist carries no PROGRAM-DATE-TIME.
func (c *Client) Lag(ctx context.Context) (lag time.Duration, dated bool, err error) {
	m, err := c.Media(ctx, -1, 0)
	if err != nil {
		return 0, false, err
	}
	at := time.Now()
	edge := Edge(m)
	if edge.IsZero() {
		return 0, false, nil
	}
	return at.Sub(edge), true, nil
}

// Next returns the media sequence number and part index of the next part
// to ask for with a blocking reload.
func Next(m *playlist.Media) (msn, part int) {
	return m.MediaSequence + len(m.Segments), len(m.Parts)
}

// LastPart returns the URI of the newest part.
func LastPart(m *playlist.Media) string {
	if len(m.Parts) > 0 {
		return m.Parts[len(m.Parts)-1].URI
	}
	if len(m.Segments) > 0 {
		if ps := m.Segments[len(m.Segments)-1].Parts; len(ps) > 0 {
			return ps[len(ps)-1].URI
		}
	}
	return ""
}
