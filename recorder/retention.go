package recorder

import (
	"context"
	"errors"
	"os"
	"time"

	"vitrine/store"
)

// Retention: with DeleteAfter set, a recording's files are deleted that
// long after its live ended; its row stays, in state "deleted", so that
// the campaign says what became of its replay (the event log, and so the
// products timeline, stays). The same sweep deletes directories left
// without a recording (a campaign deleted while its files could not be).

// retentionEvery is the sweep period (shorter for short retentions).
func (r *Recorder) retentionEvery() time.Duration {
	return min(max(r.cfg.DeleteAfter/10, time.Second), 10*time.Minute)
}

func (r *Recorder) retentionLoop() {
	t := time.NewTicker(r.retentionEvery())
	defer t.Stop()
	for {
		if err := r.sweep(r.ctx); err != nil && r.ctx.Err() == nil {
			r.log.Warn("retention sweep failed", "error", err)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep applies the retention once.
func (r *Recorder) sweep(ctx context.Context) error {
	recs, err := r.st.ListRecordings(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	now := r.now()
	for _, rec := range recs {
		known[rec.CampaignID] = true
		if r.cfg.DeleteAfter <= 0 || rec.EndedAt == nil || now.Sub(*rec.EndedAt) < r.cfg.DeleteAfter ||
			(rec.State != store.RecordingReady && rec.State != store.RecordingFailed) {
			continue
		}
		if err := r.expire(ctx, rec.CampaignID); err != nil {
			r.log.Warn("recording not deleted by retention", "campaign", rec.CampaignID, "error", err)
		}
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || known[e.Name()] {
			continue
		}
		id := e.Name()
		r.mu.Lock()
		busy := r.jobs[id] != nil
		r.mu.Unlock()
		if busy {
			continue // a recording being opened
		}
		unlock := r.lock(id)
		_, err := r.st.GetRecording(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			if os.RemoveAll(r.dirOf(id)) == nil {
				r.log.Info("recording files without a recording deleted", "campaign", id)
			}
		}
		unlock()
	}
	return nil
}

// expire deletes a recording's files and index, keeping its row.
func (r *Recorder) expire(ctx context.Context, id string) error {
	unlock := r.lock(id)
	defer unlock()
	rec, err := r.st.GetRecording(ctx, id)
	if err != nil {
		return err
	}
	if rec.State != store.RecordingReady && rec.State != store.RecordingFailed {
		return nil // recorded again meanwhile
	}
	if err := os.RemoveAll(r.dirOf(id)); err != nil {
		return err
	}
	if err := r.st.DeleteRecording(ctx, id); err != nil {
		return err
	}
	rec.State = store.RecordingDeleted
	if err := r.st.SaveRecording(ctx, rec); err != nil {
		return err
	}
	r.log.Info("recording deleted by retention", "campaign", id, "ended_at", rec.EndedAt, "delete_after", r.cfg.DeleteAfter)
	return nil
}
