// Package recorder keeps every live of a campaign on disk as fMP4 (an init
// segment per publisher session, then segments cut at keyframes and
// written in synced fragments of about a second), indexes it in the store,
// and serves it back: the replay as HLS VOD with the campaign's recorded
// shopping events on the same clock, the products timeline, a sequence per
// product pin, and MP4 and ZIP downloads.
//
// On disk, under the recordings directory:
//
//	{campaign}/s{session}/init.mp4
//	{campaign}/s{session}/{seq:06d}.m4s
//
// Paths from HTTP requests never reach the file system: every file served
// is looked up by number in the index.
//
// It imports stream, events, store and internal helpers; never overlay (it
// reads the log as events).
package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"vitrine/internal/cors"
	"vitrine/store"
	"vitrine/stream"
)

// Errors the recorder's callers branch on.
var (
	// ErrNoRecording: the campaign has no recording (never live, reset,
	// or deleted by retention).
	ErrNoRecording = errors.New("no recording")
	// ErrInProgress: the live is being recorded; downloads wait for its end.
	ErrInProgress = errors.New("the live is being recorded")
	// ErrNoSequence: no product sequence with that id.
	ErrNoSequence = errors.New("no such sequence")
	// ErrLive: the campaign is live; a reset waits for its end.
	ErrLive = errors.New("the campaign is live")
	// ErrTooLarge: more than one MP4 file can hold (4 GiB).
	ErrTooLarge = errors.New("too large for one MP4 file")
)

// FinalisingError answers a download asked for while a just-ended live is
// being finalised: come back after RetryAfter.
type FinalisingError struct {
	Progress   float64 // 0..1
	RetryAfter time.Duration
}

func (e *FinalisingError) Error() string {
	return fmt.Sprintf("the recording is being finalised (%.0f%%)", e.Progress*100)
}

// Store is what the recorder needs of the store.
type Store interface {
	GetCampaign(ctx context.Context, id string) (*store.Campaign, error)
	ListEvents(ctx context.Context, campaignID string, afterSeq int64, limit int) ([]store.Event, error)
	SaveRecording(ctx context.Context, r *store.Recording) error
	GetRecording(ctx context.Context, campaignID string) (*store.Recording, error)
	ListRecordings(ctx context.Context) ([]store.Recording, error)
	SaveRecordingSession(ctx context.Context, s *store.RecordingSession) error
	ListRecordingSessions(ctx context.Context, campaignID string) ([]store.RecordingSession, error)
	SaveRecordingSegment(ctx context.Context, s *store.RecordingSegment) error
	ListRecordingSegments(ctx context.Context, campaignID string) ([]store.RecordingSegment, error)
	DeleteRecordingSegments(ctx context.Context, campaignID string, fromSeq int64) error
	DeleteRecording(ctx context.Context, campaignID string) error
}

// Config configures a Recorder.
type Config struct {
	Hub   *stream.Hub
	Store Store
	// Dir holds the recordings (created if missing).
	Dir string
	// FragmentDuration is the media written and synced at once (default 1s).
	FragmentDuration time.Duration
	// SegmentDuration: segments end at the first keyframe after it (default 1s).
	SegmentDuration time.Duration
	// DeleteAfter deletes a recording's files that long after its live
	// ended; 0 keeps them.
	DeleteAfter time.Duration
	// AllowOrigins are the browser origins that may read replays ("*": any).
	AllowOrigins []string
	Logger       *slog.Logger
	Now          func() time.Time
}

// Recorder records the hub's campaign streams and serves the recordings.
type Recorder struct {
	cfg     Config
	st      Store
	dir     string
	log     *slog.Logger
	now     func() time.Time
	fs      fileSystem
	cors    cors.CORS
	metrics *metrics

	unlisten func()
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // sessions and finalisations
	bg       sync.WaitGroup // the retention loop

	mu     sync.Mutex
	closed bool
	jobs   map[string]*job         // the session being written, by campaign
	finals map[string]*finaliser   // finalisations running, by campaign
	stats  map[string]*streamStats // by campaign, while recorded
	locks  map[string]*sync.Mutex
	// open are the recordings left open, with no session written, while
	// their campaign is live (its publisher gone, or the server restarted
	// during the live): the next publish continues them, the campaign's
	// end finalises them (see awaitEnds).
	open map[string]bool

	// finaliseHook, when set (tests), runs before each segment is checked.
	finaliseHook func()
}

// job is one publisher session being written.
type job struct {
	campaign string
	stream   *stream.Stream
	// reader is run's alone: a job that waits for its campaign's live (a
	// preparation) holds none meanwhile, and attaches a new one then.
	reader *stream.Reader
	done   chan struct{}
	prev   *job // the session before it, still closing
}

type finaliser struct {
	cancel   context.CancelFunc
	done     chan struct{}
	progress atomic.Int64 // per mille
}

type streamStats struct {
	bytes, segments, errors atomic.Uint64
	recording               atomic.Bool
}

// New validates cfg and creates the recordings directory.
func New(cfg Config) (*Recorder, error) {
	if cfg.Hub == nil || cfg.Store == nil {
		return nil, errors.New("recorder: a hub and a store are required")
	}
	if cfg.Dir == "" {
		return nil, errors.New("recorder: a directory is required")
	}
	if cfg.FragmentDuration <= 0 {
		cfg.FragmentDuration = time.Second
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = time.Second
	}
	if cfg.SegmentDuration < cfg.FragmentDuration {
		return nil, errors.New("recorder: the segment duration must not be shorter than the fragment duration")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AllowOrigins == nil {
		cfg.AllowOrigins = []string{"*"}
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	if err := mkdirSync(dir); err != nil {
		return nil, fmt.Errorf("recorder: directory: %w", err)
	}
	c, err := cors.New(cfg.AllowOrigins, corsPolicy)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	r := &Recorder{cfg: cfg, st: cfg.Store, dir: dir, log: cfg.Logger.With("component", "recorder"),
		now: cfg.Now, fs: osFS, cors: c, metrics: newMetrics(),
		jobs: map[string]*job{}, finals: map[string]*finaliser{}, stats: map[string]*streamStats{},
		locks: map[string]*sync.Mutex{}, open: map[string]bool{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.metrics.r = r
	return r, nil
}

// Start reconciles the index with the files (after a crash, the tail of a
// segment may be beyond what was indexed), then records the hub's streams.
func (r *Recorder) Start(ctx context.Context) error {
	if err := r.reconcile(ctx); err != nil {
		return err
	}
	r.unlisten = r.cfg.Hub.Listen(r.onEvent)
	for _, st := range r.cfg.Hub.Streams() {
		if len(st.Tracks()) > 0 {
			r.startJob(st)
		}
	}
	r.bg.Go(r.awaitEnds)
	if r.cfg.DeleteAfter > 0 {
		r.bg.Go(r.retentionLoop)
	}
	return nil
}

// Close stops recording: sessions being written are closed (their last
// fragment written), and finalisations under way are waited for.
func (r *Recorder) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	if r.unlisten != nil {
		r.unlisten()
	}
	// Streams end before the recorder closes: give their sessions and
	// finalisations a moment to complete, then stop what remains (the next
	// start finishes it).
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
	}
	r.cancel()
	<-done
	r.bg.Wait()
}

// closeGrace bounds how long Close waits for sessions to finish by
// themselves.
const closeGrace = 5 * time.Second

func (r *Recorder) onEvent(ev stream.Event) {
	switch ev.Kind {
	case stream.EventReady:
		r.startJob(ev.Stream)
	case stream.EventOffline:
		r.log.Info("publisher dropped; the recording waits for it", "campaign", ev.Stream.ID())
	}
}

func (r *Recorder) lock(id string) func() {
	r.mu.Lock()
	m := r.locks[id]
	if m == nil {
		m = &sync.Mutex{}
		r.locks[id] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// startJob attaches a reader at once (no frame is missed) and checks in
// its own goroutine that the stream is a campaign's.
func (r *Recorder) startJob(st *stream.Stream) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if j := r.jobs[st.ID()]; j != nil && j.stream == st && !st.Closed() {
		select {
		case <-j.done:
		default:
			r.mu.Unlock()
			return // already recording this stream's tracks
		}
	}
	rd, err := st.AddReader("recorder")
	if err != nil {
		r.mu.Unlock()
		return
	}
	j := &job{campaign: st.ID(), stream: st, reader: rd, done: make(chan struct{}), prev: r.jobs[st.ID()]}
	r.jobs[st.ID()] = j
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer close(j.done)
		r.run(j)
	}()
}

func (r *Recorder) statsOf(id string) *streamStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats[id]
	if s == nil {
		s = &streamStats{}
		r.stats[id] = s
	}
	return s
}

// run records one publisher session.
//
// A campaign in preparation is not recorded: its encoder is the host's
// rehearsal. The job lets go of its reader, waits for the live, and then
// records from the live's start: a new reader, whose units captured before
// LiveStartedAt (the GOP cache, the queue) are dropped up to the first
// keyframe captured at or after it (on the media clock, Unit.NTP).
func (r *Recorder) run(j *job) {
	defer func() { j.reader.Close() }()
	if j.prev != nil {
		<-j.prev.done // the previous session finishes its index first
	}
	ctx := r.ctx
	log := r.log.With("campaign", j.campaign)
	c, err := r.st.GetCampaign(ctx, j.campaign)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Warn("not recorded: campaign lookup failed", "error", err)
		}
		return // a declared test stream, not a campaign: not recorded
	}
	var from *time.Time // record what was captured from then on
	switch c.Stage() {
	case store.StagePreparing:
		j.reader.Close()
		log.Info("in preparation: not recorded until the campaign goes live")
		if c = r.awaitLive(ctx, j, log); c == nil {
			return
		}
		rd, err := j.stream.AddReader("recorder")
		if err != nil {
			return // the stream ended as the live began
		}
		j.reader, from = rd, c.LiveStartedAt
	case store.StageLive:
		// A publisher connected before the live began was the
		// preparation's, which went live between this job's start and the
		// read above: its reader holds the preparation's last frames.
		if st := j.stream.Stats(); st.Since != nil && st.Since.Before(*c.LiveStartedAt) {
			from = c.LiveStartedAt
		}
	}

	unlock := r.lock(j.campaign)
	w, seg, err := r.openSession(ctx, j)
	if err != nil {
		unlock()
		r.fail(j.campaign, log, err)
		return
	}
	stats := r.statsOf(j.campaign)
	stats.recording.Store(true)
	unlock()
	log.Info("recording", "session", w.session, "tracks", seg.codecs())

	write := seg.write
	if from != nil {
		write = capturedFrom(*from, j.reader.Stream().Tracks(), write)
	}
	err = j.reader.Run(ctx, write)
	closeErr := error(nil)
	if !errors.Is(err, errWrite) {
		closeErr = seg.close() // the held-back frames make the last fragment
	}
	if werr := w.async.close(); werr != nil {
		err, closeErr = fmt.Errorf("%w: %v", errWrite, werr), nil
	}
	stats.recording.Store(false)

	unlock = r.lock(j.campaign)
	defer unlock()
	ended := r.now()
	if sessErr := r.st.SaveRecordingSession(context.WithoutCancel(ctx), &store.RecordingSession{
		CampaignID: j.campaign, Session: w.session, InitPath: filepath.Join(w.rel, "init.mp4"),
		Tracks: seg.codecs(), StartedAt: w.started, EndedAt: &ended}); sessErr != nil && closeErr == nil {
		closeErr = sessErr
	}
	switch {
	case closeErr != nil || !(errors.Is(err, stream.ErrStreamClosed) || errors.Is(err, context.Canceled) ||
		errors.Is(err, stream.ErrTracksChanged)):
		w.abort()
		if closeErr != nil {
			err = closeErr
		}
		r.failLocked(j.campaign, log, err)
	case errors.Is(err, stream.ErrTracksChanged):
		// The next session (new init segment) continues the recording.
		log.Info("session recorded", "session", w.session, "reason", err)
	case errors.Is(err, context.Canceled):
		// The recorder closes: the next start repairs the recording, and
		// finalises it if the live has ended by then.
		log.Info("session recorded", "session", w.session, "reason", err)
	default:
		log.Info("session recorded", "session", w.session, "reason", err)
		r.finaliseIfEnded(ctx, j.campaign, j, log)
	}
}

// liveCheckEvery is how often a job waiting for its campaign's live (the
// campaign is in preparation) reads the campaign. What the recording keeps
// does not depend on it (capturedFrom cuts at the live's start), as long
// as it is shorter than a GOP.
var liveCheckEvery = 200 * time.Millisecond

// awaitLive waits while the campaign of job j is in preparation and
// returns it once it is live; nil if the preparation was abandoned, the
// campaign deleted, the stream closed or the recorder closing.
func (r *Recorder) awaitLive(ctx context.Context, j *job, log *slog.Logger) *store.Campaign {
	t := time.NewTicker(liveCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if j.stream.Closed() {
			log.Info("the preparation ended without a live: nothing recorded")
			return nil
		}
		c, err := r.st.GetCampaign(ctx, j.campaign)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			log.Warn("campaign not read while waiting for its live", "error", err)
			continue
		}
		switch c.Stage() {
		case store.StageLive:
			log.Info("the campaign went live: recording from its start", "live_started_at", c.LiveStartedAt)
			return c
		case store.StageOffAir:
			log.Info("the preparation was abandoned: nothing recorded")
			return nil
		}
	}
}

// capturedFrom passes on to write the units captured at or after from,
// starting with a keyframe (of the video track; any unit of an audio-only
// stream): what came before is the preparation's.
func capturedFrom(from time.Time, tracks []*stream.Track, write func(*stream.Unit) error) func(*stream.Unit) error {
	video := -1
	for i, t := range tracks {
		if t.Codec.IsVideo() {
			video = i
			break
		}
	}
	open := false
	return func(u *stream.Unit) error {
		if !open {
			if u.NTP.Before(from) || !u.Key || (video >= 0 && u.Track != video) {
				return nil
			}
			open = true
		}
		return write(u)
	}
}

// errWrite wraps a write error that stops the recording.
var errWrite = errors.New("recording write failed")

// sessionOf is the state run keeps about the session.
type openedSession struct {
	*sessionWriter
	async   *asyncSink
	started time.Time
}

// openSession creates (or continues) the campaign's recording, writes the
// session's init segment and indexes the session.
func (r *Recorder) openSession(ctx context.Context, j *job) (*openedSession, *segmenter, error) {
	now := r.now()
	rec, err := r.st.GetRecording(ctx, j.campaign)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = &store.Recording{CampaignID: j.campaign, StartedAt: now}
	case err != nil:
		return nil, nil, err
	}
	sessions, err := r.st.ListRecordingSessions(ctx, j.campaign)
	if err != nil {
		return nil, nil, err
	}
	segs, err := r.st.ListRecordingSegments(ctx, j.campaign)
	if err != nil {
		return nil, nil, err
	}
	session := 1
	if n := len(sessions); n > 0 {
		session = sessions[n-1].Session + 1
	}
	nextSeq := int64(1)
	if n := len(segs); n > 0 {
		nextSeq = segs[n-1].Seq + 1
	}
	rec.State, rec.EndedAt = store.RecordingActive, nil
	if err := r.st.SaveRecording(ctx, rec); err != nil {
		return nil, nil, err
	}

	rel := filepath.Join(j.campaign, fmt.Sprintf("s%d", session))
	sw := &sessionWriter{r: r, ctx: ctx, campaign: j.campaign, session: session, rel: rel, nextSeq: nextSeq,
		stats: r.statsOf(j.campaign)}
	seg, err := newSegmenter(j.reader.Stream().Tracks(), r.cfg.SegmentDuration, r.cfg.FragmentDuration, nil)
	if err != nil {
		return nil, nil, err
	}
	if session > 1 {
		seg.markDiscontinuity()
	}
	if n := len(segs); n > 0 {
		last := segs[n-1]
		seg.after = last.MediaStart + last.Duration + time.Second
	}
	init, err := seg.init()
	if err != nil {
		return nil, nil, err
	}
	abs := filepath.Join(r.dir, rel)
	// A directory left by a session that crashed before it was indexed.
	_ = os.RemoveAll(abs)
	if err := mkdirSync(abs); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errWrite, err)
	}
	if err := r.writeFileSync(filepath.Join(abs, "init.mp4"), init); err != nil {
		return nil, nil, fmt.Errorf("%w: init segment: %v", errWrite, err)
	}
	if err := r.st.SaveRecordingSession(ctx, &store.RecordingSession{CampaignID: j.campaign, Session: session,
		InitPath: filepath.Join(rel, "init.mp4"), Tracks: seg.codecs(), StartedAt: now}); err != nil {
		return nil, nil, err
	}
	w := &openedSession{sessionWriter: sw, async: newAsyncSink(sw), started: now}
	seg.out = failing{w.async}
	return w, seg, nil
}

// failing marks a sink's errors as write errors, which stop the recording.
type failing struct{ sink }

func (f failing) beginSegment(s segmentStart) error {
	if err := f.sink.beginSegment(s); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return nil
}

func (f failing) writeFragment(data []byte, dur time.Duration, end bool) error {
	if err := f.sink.writeFragment(data, dur, end); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return nil
}

func (r *Recorder) fail(id string, log *slog.Logger, err error) {
	unlock := r.lock(id)
	defer unlock()
	r.failLocked(id, log, err)
}

// failLocked stops the campaign's recording after a write error: an alert
// in the log, the metrics and the recording's state. The live goes on.
func (r *Recorder) failLocked(id string, log *slog.Logger, err error) {
	r.statsOf(id).errors.Add(1)
	r.metrics.writeErrors.Add(1)
	log.Error("RECORDING STOPPED: write failed; the live goes on without recording", "error", err)
	ctx := context.WithoutCancel(r.ctx)
	rec, gerr := r.st.GetRecording(ctx, id)
	if gerr != nil {
		rec = &store.Recording{CampaignID: id, StartedAt: r.now()}
	}
	at := r.now()
	rec.State, rec.Error, rec.ErrorAt = store.RecordingFailed, err.Error(), &at
	if rec.EndedAt == nil {
		rec.EndedAt = &at
	}
	if serr := r.st.SaveRecording(ctx, rec); serr != nil {
		log.Error("recording failure not recorded in the store", "error", serr)
	}
}

// dirOf is the absolute directory of a campaign's recording.
func (r *Recorder) dirOf(id string) string { return filepath.Join(r.dir, id) }

// Remove deletes a campaign's recording: files and index. A campaign
// being recorded is refused with ErrLive.
func (r *Recorder) Remove(ctx context.Context, id string) error {
	return r.Reset(ctx, id, func(ctx context.Context) error { return r.st.DeleteRecording(ctx, id) })
}

// Reset runs resetStore (which deletes the index with the rest of what the
// live left) while no session or finalisation of the campaign runs, then
// deletes the recording's files.
func (r *Recorder) Reset(ctx context.Context, id string, resetStore func(ctx context.Context) error) error {
	r.mu.Lock()
	j := r.jobs[id]
	f := r.finals[id]
	r.mu.Unlock()
	if j != nil {
		select {
		case <-j.done:
		default:
			return ErrLive
		}
	}
	if f != nil {
		f.cancel()
		<-f.done
	}
	unlock := r.lock(id)
	defer unlock()
	if err := resetStore(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(r.dirOf(id)); err != nil {
		r.log.Warn("recording files not deleted; retention will retry", "campaign", id, "error", err)
	}
	r.mu.Lock()
	delete(r.stats, id)
	delete(r.open, id)
	r.mu.Unlock()
	return nil
}
