package recorder

import (
	"context"
	"errors"
	"strconv"
	"time"

	"vitrine/store"
)

// Status is what the admin API shows of a campaign's recording.
type Status struct {
	State     string     `json:"state"`
	Error     string     `json:"error,omitempty"`
	ErrorAt   *time.Time `json:"error_at,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Sessions  int        `json:"sessions"`
	Segments  int        `json:"segments"`
	Duration  float64    `json:"duration"` // seconds of replay
	Size      int64      `json:"size"`     // bytes on disk
	// Progress of the finalisation (0..1), while finalising.
	Progress *float64 `json:"progress,omitempty"`
}

// Status describes a campaign's recording (ErrNoRecording if none).
func (r *Recorder) Status(ctx context.Context, id string) (*Status, error) {
	rec, err := r.st.GetRecording(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoRecording
	}
	if err != nil {
		return nil, err
	}
	s := &Status{State: rec.State, Error: rec.Error, ErrorAt: rec.ErrorAt, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt}
	if rec.State == store.RecordingDeleted {
		return s, nil
	}
	rc, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	s.Sessions, s.Segments = len(rc.sessions), len(rc.segs)
	for _, seg := range rc.segs {
		s.Duration += seg.Duration.Seconds()
		s.Size += seg.Size
	}
	if rec.State == store.RecordingFinalising {
		p, _ := r.progress(id)
		s.Progress = &p
	}
	return s, nil
}

// ProductsTimeline is the Products tab: the products shown during the
// live, in order of first appearance, with when and how long.
type ProductsTimeline struct {
	LiveStartedAt *time.Time        `json:"live_started_at"`
	LiveEndedAt   *time.Time        `json:"live_ended_at"`
	Products      []ProductTimeline `json:"products"`
}

// ProductsTimeline reads the campaign's event log (it needs no recording).
func (r *Recorder) ProductsTimeline(ctx context.Context, id string) (*ProductsTimeline, error) {
	c, err := r.st.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := readEvents(ctx, r.st, id)
	if err != nil {
		return nil, err
	}
	end := r.now()
	if c.LiveEndedAt != nil && (c.LiveStartedAt == nil || !c.LiveEndedAt.Before(*c.LiveStartedAt)) {
		end = *c.LiveEndedAt
	}
	return &ProductsTimeline{LiveStartedAt: c.LiveStartedAt, LiveEndedAt: c.LiveEndedAt,
		Products: productsTimeline(evs, end)}, nil
}

// Sequence is one product's clip: from the keyframe at or before its pin
// to its unpin.
type Sequence struct {
	ID        string    `json:"id"` // the pin event's seq
	ProductID string    `json:"product_id"`
	Name      string    `json:"name"`
	PinnedAt  time.Time `json:"pinned_at"`
	// UnpinnedAt is the unpin, or the end of the live (Open).
	UnpinnedAt time.Time `json:"unpinned_at"`
	Open       bool      `json:"open"`
	// Start is where the clip starts in the replay (its keyframe), in
	// seconds; Duration is the clip's length in seconds.
	Start    float64 `json:"start"`
	Duration float64 `json:"duration"`

	from, to time.Time
}

// sequences derives the product sequences of a recording.
func (r *Recorder) sequences(ctx context.Context, id string, rc *recording) ([]Sequence, error) {
	tl, err := r.ProductsTimeline(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []Sequence{}
	if len(rc.segs) == 0 {
		return out, nil
	}
	cm := newClockMap(rc.segs)
	first := rc.segs[0].StartAt
	lastSeg := rc.segs[len(rc.segs)-1]
	last := lastSeg.StartAt.Add(lastSeg.Duration)
	for _, p := range tl.Products {
		for _, iv := range p.Intervals {
			if !iv.To.After(first) || !iv.From.Before(last) {
				continue // not in the recording
			}
			clip := clipSegments(rc.segs, iv.From, iv.To)
			if len(clip) == 0 {
				continue
			}
			start := cm.offset(clip[0].StartAt)
			end := cm.offset(iv.To)
			out = append(out, Sequence{ID: strconv.FormatInt(iv.PinSeq, 10), ProductID: p.ProductID, Name: p.Name,
				PinnedAt: iv.From, UnpinnedAt: iv.To, Open: iv.Open, Start: start.Seconds(),
				Duration: max(end-start, 0).Seconds(), from: iv.From, to: iv.To})
		}
	}
	return out, nil
}

// Sequences lists the campaign's product sequences.
func (r *Recorder) Sequences(ctx context.Context, id string) ([]Sequence, error) {
	rc, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.sequences(ctx, id, rc)
}

// sequence finds one sequence by id.
func (r *Recorder) sequence(ctx context.Context, id string, rc *recording, seqID string) (*Sequence, error) {
	if _, err := strconv.ParseUint(seqID, 10, 63); err != nil {
		return nil, ErrNoSequence
	}
	seqs, err := r.sequences(ctx, id, rc)
	if err != nil {
		return nil, err
	}
	for i := range seqs {
		if seqs[i].ID == seqID {
			return &seqs[i], nil
		}
	}
	return nil, ErrNoSequence
}

// downloadable loads a recording whose downloads are open: not while it
// is recorded (ErrInProgress), not while finalised (*FinalisingError).
func (r *Recorder) downloadable(ctx context.Context, id string) (*recording, error) {
	rc, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	switch rc.rec.State {
	case store.RecordingActive:
		return nil, ErrInProgress
	case store.RecordingFinalising:
		p, _ := r.progress(id)
		return nil, &FinalisingError{Progress: p, RetryAfter: 2 * time.Second}
	}
	if len(rc.segs) == 0 {
		return nil, ErrNoRecording
	}
	return rc, nil
}
