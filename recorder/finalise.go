package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"vitrine/store"
)

// Finalising: once a live has ended, every segment of its recording is
// checked against the index (size, readable fragments) before downloads
// open; meanwhile they answer 202 with the progress. After a crash, the
// same pass repairs: bytes past the indexed size are cut, files the index
// does not know are deleted, and an index row whose file is missing or
// unreadable is dropped with those after it.
//
// Only a live that has ended is finalised: a VOD playlist must not change
// (RFC 8216), and the campaign's next publish would add to it. While the
// campaign is live, its recording stays open, in state "recording" with
// an EVENT playlist, whether its publisher left for longer than the
// reconnect window, the server stopped, or it crashed; the next publish
// continues it, and the campaign's end finalises it.

// campaignLive reports whether the campaign's live goes on (it went live
// and was not ended); a deleted campaign's has not.
func (r *Recorder) campaignLive(ctx context.Context, id string) (bool, error) {
	c, err := r.st.GetCampaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Status(r.now()) == store.StatusOngoing, nil
}

// finaliseIfEnded finalises the campaign's recording after job j (may be
// nil) if its live has ended; otherwise the recording stays open until
// the next publish continues it or awaitEnds sees the end.
func (r *Recorder) finaliseIfEnded(ctx context.Context, id string, after *job, log *slog.Logger) {
	live, err := r.campaignLive(ctx, id)
	if err != nil {
		log.Warn("campaign not read: the recording stays open until its end is seen", "error", err)
		live = true
	}
	r.mu.Lock()
	if live {
		r.open[id] = true
	} else {
		delete(r.open, id)
	}
	r.mu.Unlock()
	if live {
		log.Info("the campaign is live: its recording stays open for the next publish, until the campaign's end")
		return
	}
	r.startFinalise(id, after)
}

// endCheckEvery is how often awaitEnds looks at the campaigns of the
// open recordings.
var endCheckEvery = time.Second

// awaitEnds finalises an open recording once its campaign's live has
// ended: an end while no publisher is connected closes no stream, so no
// session ends to say it.
func (r *Recorder) awaitEnds() {
	t := time.NewTicker(endCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		var ids []string
		for id := range r.open {
			if j := r.jobs[id]; j != nil {
				select {
				case <-j.done:
				default:
					continue // a session is written: its end decides
				}
			}
			ids = append(ids, id)
		}
		r.mu.Unlock()
		for _, id := range ids {
			if live, err := r.campaignLive(r.ctx, id); err != nil || live {
				continue
			}
			r.mu.Lock()
			delete(r.open, id)
			r.mu.Unlock()
			r.log.Info("the campaign's live has ended: its recording is finalised", "campaign", id)
			r.startFinalise(id, nil)
		}
	}
}

// startFinalise finalises the campaign's recording once after (the
// session that ends with) job j is done; j may be nil.
func (r *Recorder) startFinalise(id string, after *job) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if old := r.finals[id]; old != nil {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	f := &finaliser{cancel: cancel, done: make(chan struct{})}
	prev := r.finals[id]
	r.finals[id] = f
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer close(f.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		if after != nil {
			<-after.done
		}
		r.finalise(ctx, id, f)
		r.mu.Lock()
		if r.finals[id] == f {
			delete(r.finals, id)
		}
		r.mu.Unlock()
	}()
}

func (r *Recorder) finalise(ctx context.Context, id string, f *finaliser) {
	log := r.log.With("campaign", id)
	if !r.setState(ctx, id, store.RecordingFinalising, false) {
		return
	}
	start := time.Now()
	n, err := r.verify(ctx, id, f, false)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("recording not finalised", "error", err)
		}
		return // still finalising: the next start repairs and finishes it
	}
	if r.setState(ctx, id, store.RecordingReady, true) {
		log.Info("recording finalised", "segments", n, "took", time.Since(start).Round(time.Millisecond))
	}
}

// setState moves the recording to state unless a session started meanwhile
// (or the recording failed). ended stamps EndedAt.
func (r *Recorder) setState(ctx context.Context, id, state string, ended bool) bool {
	unlock := r.lock(id)
	defer unlock()
	rec, err := r.st.GetRecording(ctx, id)
	if err != nil {
		return false
	}
	if rec.State == store.RecordingFailed && state != store.RecordingFailed {
		// Keep the alert; the files recorded before the failure are
		// still checked and served.
		return state == store.RecordingFinalising || state == store.RecordingReady
	}
	r.mu.Lock()
	j := r.jobs[id]
	r.mu.Unlock()
	if j != nil {
		select {
		case <-j.done:
		default:
			return false // live again: the new session owns the state
		}
	}
	rec.State = state
	if ended {
		at := r.now()
		rec.EndedAt = &at
	}
	return r.st.SaveRecording(context.WithoutCancel(ctx), rec) == nil
}

// verify checks (and with repair, fixes) the campaign's files against its
// index. It returns the number of segments kept.
func (r *Recorder) verify(ctx context.Context, id string, f *finaliser, repair bool) (int, error) {
	segs, err := r.st.ListRecordingSegments(ctx, id)
	if err != nil {
		return 0, err
	}
	sessions, err := r.st.ListRecordingSessions(ctx, id)
	if err != nil {
		return 0, err
	}
	known := map[string]bool{}
	for _, s := range sessions {
		known[filepath.Clean(s.InitPath)] = true
	}
	kept := 0
	for i, seg := range segs {
		if err := ctx.Err(); err != nil {
			return kept, err
		}
		if r.finaliseHook != nil {
			r.finaliseHook()
		}
		if err := r.checkSegment(&seg, repair); err != nil {
			if !repair {
				return kept, fmt.Errorf("segment %d: %w", seg.Seq, err)
			}
			r.log.Warn("recording repaired: segment dropped from the index with those after it",
				"campaign", id, "segment", seg.Seq, "reason", err)
			if err := r.st.DeleteRecordingSegments(context.WithoutCancel(ctx), id, seg.Seq); err != nil {
				return kept, err
			}
			break
		}
		if repair && !seg.Complete {
			seg.Complete = true
			if err := r.st.SaveRecordingSegment(context.WithoutCancel(ctx), &seg); err != nil {
				return kept, err
			}
		}
		known[filepath.Clean(seg.Path)] = true
		kept++
		if f != nil {
			f.progress.Store(int64((i + 1) * 1000 / len(segs)))
		}
	}
	if repair {
		r.removeUnknown(id, known)
	}
	return kept, nil
}

// checkSegment compares a segment's file with its row; with repair, bytes
// past the indexed size (a fragment written but not indexed) are cut.
func (r *Recorder) checkSegment(seg *store.RecordingSegment, repair bool) error {
	path, err := r.abs(seg.Path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.Size() < seg.Size:
		return fmt.Errorf("file has %d bytes, the index %d", fi.Size(), seg.Size)
	case fi.Size() > seg.Size:
		if !repair {
			return fmt.Errorf("file has %d bytes, the index %d", fi.Size(), seg.Size)
		}
		if err := os.Truncate(path, seg.Size); err != nil {
			return err
		}
		r.log.Info("recording repaired: unindexed tail cut", "segment", seg.Path, "bytes", fi.Size()-seg.Size)
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := parseFragments(file, seg.Size); err != nil {
		return err
	}
	return nil
}

// removeUnknown deletes files of the campaign's directory that the index
// does not name (written before a crash, never indexed).
func (r *Recorder) removeUnknown(id string, known map[string]bool) {
	root := r.dirOf(id)
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(r.dir, path)
		if err != nil || known[rel] {
			return nil
		}
		if os.Remove(path) == nil {
			r.log.Info("recording repaired: unindexed file deleted", "file", rel)
		}
		return nil
	})
}

// abs resolves an index path inside the recordings directory; a path that
// would leave it (a tampered index) is refused.
func (r *Recorder) abs(rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("index path %q is not inside the recordings directory", rel)
	}
	return filepath.Join(r.dir, rel), nil
}

// reconcile brings every recording left open by a crash (or a shutdown
// during finalisation) to a consistent state: ready if its campaign's
// live has ended, still open (recording, an EVENT playlist) for the next
// publish if it goes on.
func (r *Recorder) reconcile(ctx context.Context) error {
	recs, err := r.st.ListRecordings(ctx)
	if err != nil {
		return fmt.Errorf("recorder: list recordings: %w", err)
	}
	for _, rec := range recs {
		if rec.State != store.RecordingActive && rec.State != store.RecordingFinalising {
			continue
		}
		n, err := r.verify(ctx, rec.CampaignID, nil, true)
		if err != nil {
			return fmt.Errorf("recorder: recover %s: %w", rec.CampaignID, err)
		}
		if err := r.closeSessions(ctx, rec.CampaignID); err != nil {
			return err
		}
		live, err := r.campaignLive(ctx, rec.CampaignID)
		if err != nil {
			return fmt.Errorf("recorder: recover %s: %w", rec.CampaignID, err)
		}
		if live {
			rec.State, rec.EndedAt = store.RecordingActive, nil
			if err := r.st.SaveRecording(ctx, &rec); err != nil {
				return err
			}
			r.mu.Lock()
			r.open[rec.CampaignID] = true
			r.mu.Unlock()
			r.log.Warn("recording recovered after an unclean stop: it plays up to its last synced fragment; "+
				"the campaign is live: the recording stays open, the next publish continues it, its end finalises it",
				"campaign", rec.CampaignID, "segments", n)
			continue
		}
		now := r.now()
		rec.State, rec.EndedAt = store.RecordingReady, &now
		if err := r.st.SaveRecording(ctx, &rec); err != nil {
			return err
		}
		r.log.Warn("recording recovered after an unclean stop: it plays up to its last synced fragment",
			"campaign", rec.CampaignID, "segments", n)
	}
	return nil
}

// closeSessions stamps an end on sessions a crash left open: the end of
// their last segment.
func (r *Recorder) closeSessions(ctx context.Context, id string) error {
	sessions, err := r.st.ListRecordingSessions(ctx, id)
	if err != nil {
		return err
	}
	segs, err := r.st.ListRecordingSegments(ctx, id)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if s.EndedAt != nil {
			continue
		}
		end := s.StartedAt
		for _, seg := range segs {
			if seg.Session == s.Session {
				end = seg.StartAt.Add(seg.Duration)
			}
		}
		s.EndedAt = &end
		if err := r.st.SaveRecordingSession(ctx, &s); err != nil {
			return err
		}
	}
	return nil
}

// progress reports a finalisation under way.
func (r *Recorder) progress(id string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.finals[id]
	if f == nil {
		return 0, false
	}
	return float64(f.progress.Load()) / 1000, true
}
