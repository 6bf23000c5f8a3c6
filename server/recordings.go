package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"vitrine/api"
	"vitrine/recorder"
)

// recordings adapts the recorder to the API's Recordings: same data, the
// API's own types (which document the routes) and errors.
type recordings struct{ r *recorder.Recorder }

var _ api.Recordings = recordings{}

// convert copies src into a T through JSON: the API's views and the
// recorder's types have the same fields and tags.
func convert[T any](src any) (T, error) {
	var out T
	b, err := json.Marshal(src)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	return out, err
}

func recErr(err error) error {
	var fe *recorder.FinalisingError
	switch {
	case errors.Is(err, recorder.ErrNoRecording):
		return api.ErrNoRecording
	case errors.Is(err, recorder.ErrInProgress):
		return api.ErrRecordingInProgress
	case errors.Is(err, recorder.ErrNoSequence):
		return api.ErrNoSequence
	case errors.Is(err, recorder.ErrLive):
		return api.ErrCampaignLive
	case errors.Is(err, recorder.ErrTooLarge):
		return api.ErrTooLarge
	case errors.As(err, &fe):
		return &api.FinalisingError{Progress: fe.Progress, RetryAfter: fe.RetryAfter}
	}
	return err
}

func (a recordings) Recording(ctx context.Context, id string) (*api.RecordingView, error) {
	s, err := a.r.Status(ctx, id)
	if err != nil {
		return nil, recErr(err)
	}
	v, err := convert[api.RecordingView](s)
	return &v, err
}

func (a recordings) ProductsTimeline(ctx context.Context, id string) (*api.ProductsTimelineView, error) {
	t, err := a.r.ProductsTimeline(ctx, id)
	if err != nil {
		return nil, recErr(err)
	}
	v, err := convert[api.ProductsTimelineView](t)
	return &v, err
}

func (a recordings) Sequences(ctx context.Context, id string) ([]api.SequenceView, error) {
	s, err := a.r.Sequences(ctx, id)
	if err != nil {
		return nil, recErr(err)
	}
	return convert[[]api.SequenceView](s)
}

func (a recordings) ServeMP4(w http.ResponseWriter, r *http.Request, id, seq string) error {
	return recErr(a.r.ServeMP4(w, r, id, seq))
}

func (a recordings) ServeSequencesZIP(w http.ResponseWriter, r *http.Request, id string) error {
	return recErr(a.r.ServeSequencesZIP(w, r, id))
}

func (a recordings) Reset(ctx context.Context, id string, resetStore func(context.Context) error) error {
	return recErr(a.r.Reset(ctx, id, resetStore))
}

func (a recordings) Remove(ctx context.Context, id string) error {
	return recErr(a.r.Remove(ctx, id))
}
