package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/grafov/m3u8"

	"vitrine/store"
)

// recording is a campaign's index as read for serving.
type recording struct {
	rec      *store.Recording
	sessions map[int]store.RecordingSession
	// segs are the playable segments (complete), by seq.
	segs []store.RecordingSegment
}

// load reads a campaign's recording; ErrNoRecording when it has none (or
// its files were deleted).
func (r *Recorder) load(ctx context.Context, id string) (*recording, error) {
	rec, err := r.st.GetRecording(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.State == store.RecordingDeleted) {
		return nil, ErrNoRecording
	}
	if err != nil {
		return nil, err
	}
	sessions, err := r.st.ListRecordingSessions(ctx, id)
	if err != nil {
		return nil, err
	}
	segs, err := r.st.ListRecordingSegments(ctx, id)
	if err != nil {
		return nil, err
	}
	rc := &recording{rec: rec, sessions: map[int]store.RecordingSession{}}
	for _, s := range sessions {
		rc.sessions[s.Session] = s
	}
	for _, s := range segs {
		if s.Complete && s.Size > 0 {
			if _, ok := rc.sessions[s.Session]; ok {
				rc.segs = append(rc.segs, s)
			}
		}
	}
	return rc, nil
}

// live reports whether the recording may still grow.
func (rc *recording) live() bool { return rc.rec.State == store.RecordingActive }

// independentSegments is EXT-X-INDEPENDENT-SEGMENTS: every segment starts
// on a keyframe.
type independentSegments struct{}

func (independentSegments) TagName() string { return "#EXT-X-INDEPENDENT-SEGMENTS" }
func (independentSegments) Encode() *bytes.Buffer {
	return bytes.NewBufferString("#EXT-X-INDEPENDENT-SEGMENTS")
}
func (independentSegments) String() string { return "#EXT-X-INDEPENDENT-SEGMENTS" }

// playlist writes segs as an HLS media playlist: VOD (with ENDLIST) once
// the recording is complete, EVENT while the live is recorded. Each
// session's first segment carries its init segment (EXT-X-MAP); segments
// after a publisher drop carry EXT-X-DISCONTINUITY; every segment carries
// its PROGRAM-DATE-TIME, the media clock of the shopping events. prefix is
// prepended to the URIs (relative to the playlist); last, if set, is the
// URI of the last segment instead (a sequence's segment cut at its unpin).
// query, if set ("?viewer=..."), is appended to the segments' URIs (see
// viewerQuery).
func playlist(segs []store.RecordingSegment, vod bool, prefix, last, query string) ([]byte, error) {
	p, err := m3u8.NewMediaPlaylist(0, uint(max(len(segs), 1)))
	if err != nil {
		return nil, err
	}
	p.SetVersion(6) // EXT-X-MAP in a playlist that is not I-frames only
	p.Custom = map[string]m3u8.CustomTag{"independent": independentSegments{}}
	if vod {
		p.MediaType = m3u8.VOD
	} else {
		p.MediaType = m3u8.EVENT
	}
	target := 1.0
	session := -1
	for i, s := range segs {
		d := s.Duration.Seconds()
		target = math.Max(target, math.Ceil(d))
		uri := prefix + segmentURI(s)
		if last != "" && i == len(segs)-1 {
			uri = last
		}
		seg := &m3u8.MediaSegment{
			URI:             uri + query,
			Duration:        d,
			ProgramDateTime: s.StartAt.UTC(),
			Discontinuity:   i > 0 && (s.Discontinuity || s.Session != session),
		}
		if s.Session != session {
			seg.Map = &m3u8.Map{URI: prefix + initURI(s.Session)}
			session = s.Session
		}
		if err := p.AppendSegment(seg); err != nil {
			return nil, err
		}
	}
	p.TargetDuration = target
	if vod {
		p.Close()
	}
	return p.Encode().Bytes(), nil
}

func segmentURI(s store.RecordingSegment) string { return fmt.Sprintf("s%d/%d.m4s", s.Session, s.Seq) }

func initURI(session int) string { return fmt.Sprintf("s%d/init.mp4", session) }

// clipSegments returns the segments of a sequence from media time from to
// to: from the segment whose keyframe is at or before from, to the one
// holding to.
func clipSegments(segs []store.RecordingSegment, from, to time.Time) []store.RecordingSegment {
	first := -1
	for i, s := range segs {
		if !s.StartAt.After(from) {
			first = i
		}
	}
	if first < 0 {
		first = 0
	}
	var out []store.RecordingSegment
	for _, s := range segs[first:] {
		if !s.StartAt.Before(to) && len(out) > 0 {
			break
		}
		out = append(out, s)
	}
	return out
}
