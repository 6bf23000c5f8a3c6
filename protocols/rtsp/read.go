package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"

	"vitrine/stream"
)

// relay is the RTSP copy of one live stream: one hub reader packetizes it
// once into a gortsplib ServerStream, whose packets every RTSP reader of the
// stream shares. It is created by the first DESCRIBE (or SETUP) and ends
// with the stream, when the stream's tracks change, or ReaderGrace after its
// last reader left.
type relay struct {
	srv    *Server
	log    *slog.Logger
	st     *stream.Stream
	codecs []stream.Codec // the tracks it was built for
	reader *stream.Reader
	stream *gortsplib.ServerStream
	tracks []*outTrack // by hub track index; nil for a track not carried
	errs   rateLog

	ctx    context.Context
	cancel context.CancelCauseFunc

	// Guarded by srv.mu.
	sessions map[*gortsplib.ServerSession]struct{}
	idle     *time.Timer
	idleGen  int // tells a stale idle timer from the current one
	retired  bool
}

// readSession is an RTSP session reading a relay, from its first SETUP.
type readSession struct {
	relay *relay
	ss    *gortsplib.ServerSession
	log   *slog.Logger
	conn  *conn
	start time.Time
	errs  rateLog
}

var errNotLive = errors.New("stream is not live")

// describe answers DESCRIBE with the SDP of a live stream.
func (s *Server) describe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	id := streamName(ctx.Path)
	if id == "" {
		res, err := s.refused(s.log.With("remote", remote),
			refuse(base.StatusNotFound, "read rtsp://HOST:PORT/%s/{campaign_id}", liveApp), "path", redactPath(ctx.Path))
		return res, nil, err
	}
	if ref := s.authorizeRead(id); ref != nil {
		s.log.Debug("rtsp describe refused", "remote", remote, "stream", id, "reason", ref.reason)
		return ref.response(), nil, nil
	}
	r, ref := s.relayFor(id)
	if ref != nil {
		// An unknown or offline stream is an ordinary answer for a player
		// polling for a live: not worth a warning.
		s.log.Debug("rtsp describe refused", "remote", remote, "stream", id, "reason", ref.reason)
		return ref.response(), nil, nil
	}
	return ok(), r.stream, nil
}

// setupRead answers the SETUP of a reader. Every SETUP of a session must
// return the same ServerStream (gortsplib panics otherwise): later ones
// reuse the session's relay.
func (s *Server) setupRead(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if rs, isRead := ctx.Session.UserData().(*readSession); isRead {
		return ok(), rs.relay.stream, nil
	}
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	log := s.log.With("remote", remote)
	id := streamName(ctx.Path)
	if id == "" {
		res, err := s.refused(log, refuse(base.StatusNotFound, "read rtsp://HOST:PORT/%s/{campaign_id}", liveApp),
			"path", redactPath(ctx.Path))
		return res, nil, err
	}
	if s.overSessionLimit() {
		res, err := s.refused(log, refuse(base.StatusServiceUnavailable, "too many sessions"))
		return res, nil, err
	}
	if ref := s.authorizeRead(id); ref != nil {
		return ref.response(), nil, nil
	}
	r, ref := s.relayFor(id)
	if ref != nil {
		return ref.response(), nil, nil
	}
	s.mu.Lock()
	r.sessions[ctx.Session] = struct{}{}
	if r.idle != nil {
		r.idle.Stop()
		r.idle = nil
	}
	s.mu.Unlock()
	rs := &readSession{
		relay: r,
		ss:    ctx.Session,
		log:   log.With("stream", id),
		conn:  connOf(ctx.Conn.NetConn()),
		start: time.Now(),
	}
	rs.errs = rateLog{log: rs.log, every: errLogInterval}
	ctx.Session.SetUserData(rs)
	return ok(), r.stream, nil
}

func (rs *readSession) play(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if rs.conn != nil {
		rs.conn.setActive(true)
	}
	rs.log.Info("rtsp reader started", "transport", ctx.Session.SetuppedTransport().String(),
		"medias", len(ctx.Session.SetuppedMedias()))
	return ok(), nil
}

func (rs *readSession) close(reason error) {
	if rs.conn != nil {
		rs.conn.setActive(false)
	}
	rs.relay.srv.removeReader(rs.relay, rs.ss)
	attrs := []any{"duration", time.Since(rs.start).Round(time.Millisecond)}
	if isNormalEnd(reason) {
		rs.log.Info("rtsp reader left", append(attrs, "reason", reason)...)
	} else {
		rs.log.Info("rtsp reader dropped", append(attrs, "error", reason)...)
	}
}

// authorizeRead asks Config.ReadAuth whether readers may have stream id.
func (s *Server) authorizeRead(id string) *refusal {
	if s.cfg.ReadAuth == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	if err := s.cfg.ReadAuth.AuthorizeRead(ctx, id); err != nil {
		if errors.Is(err, stream.ErrNotViewable) {
			return refuse(base.StatusNotFound, "no such stream")
		}
		s.log.Warn("rtsp read authorisation failed", "stream", id, "err", err)
		return refuse(base.StatusServiceUnavailable, "try again later")
	}
	return nil
}

// relayFor returns the running relay of stream id, creating it when the
// stream is live and has none (or one built for other tracks).
func (s *Server) relayFor(id string) (*relay, *refusal) {
	st, found := s.cfg.Hub.Get(id)
	if !found || !st.Online() {
		return nil, refuse(base.StatusNotFound, "%v", errNotLive)
	}
	tracks := st.Tracks()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, refuse(base.StatusServiceUnavailable, "%v", errShutdown)
	}
	if r := s.relays[id]; r != nil {
		if r.st == st && sameCodecs(r.codecs, tracks) {
			return r, nil
		}
		// A new live on the same id, or the publisher came back with new
		// tracks: this relay's readers cannot follow (their SDP is stale).
		s.retireLocked(r, errRelayReplaced)
	}
	r, err := newRelay(s, st, tracks)
	if err != nil {
		s.log.Warn("no RTSP for this stream", "stream", id, "error", err)
		return nil, refuse(base.StatusUnsupportedMediaType, "%v", err)
	}
	s.relays[id] = r
	// No reader yet: a DESCRIBE without SETUP must not keep it for ever.
	s.startIdleLocked(r)
	s.wg.Add(1) // under s.mu with closed false: Close has not reached Wait
	go r.run()
	r.log.Info("rtsp relay started", "tracks", r.names())
	return r, nil
}

func sameCodecs(codecs []stream.Codec, tracks []*stream.Track) bool {
	if len(codecs) != len(tracks) {
		return false
	}
	for i, t := range tracks {
		if !codecs[i].Equal(t.Codec) {
			return false
		}
	}
	return true
}

func newRelay(s *Server, st *stream.Stream, tracks []*stream.Track) (*relay, error) {
	r := &relay{
		srv:      s,
		log:      s.log.With("stream", st.ID()),
		st:       st,
		sessions: map[*gortsplib.ServerSession]struct{}{},
	}
	r.errs = rateLog{log: r.log, every: errLogInterval}
	desc := &description.Session{Title: "Vitrine live " + st.ID()}
	for _, t := range tracks {
		r.codecs = append(r.codecs, t.Codec)
		ot, err := newOutTrack(t.Codec)
		if err != nil {
			r.log.Warn("track not carried over RTSP", "track", t.Index, "codec", t.Codec.String(), "reason", err)
			r.tracks = append(r.tracks, nil)
			continue
		}
		r.tracks = append(r.tracks, ot)
		desc.Medias = append(desc.Medias, ot.media)
	}
	if len(desc.Medias) == 0 {
		return nil, errors.New("none of the stream's tracks can be carried over RTSP")
	}
	r.stream = &gortsplib.ServerStream{Server: s.rtsp, Desc: desc}
	if err := r.stream.Initialize(); err != nil {
		return nil, fmt.Errorf("rtsp stream: %w", err)
	}
	reader, err := st.AddReader("rtsp")
	if err != nil {
		r.stream.Close()
		return nil, fmt.Errorf("read stream: %w", err)
	}
	r.reader = reader
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	return r, nil
}

func (r *relay) names() string {
	var names []string
	for _, t := range r.tracks {
		if t != nil {
			names = append(names, t.name)
		}
	}
	return strings.Join(names, ",")
}

// run packetizes the hub reader's units until the stream ends, its tracks
// change or the relay is retired; then it disconnects the relay's readers.
func (r *relay) run() {
	defer r.srv.wg.Done()
	err := r.reader.Run(r.ctx, r.write)
	if r.ctx.Err() != nil {
		err = context.Cause(r.ctx)
	}
	r.srv.mu.Lock()
	r.srv.retireLocked(r, err)
	r.srv.mu.Unlock()
	// Closes every reader session of the stream: their SDP no longer
	// describes anything live.
	r.stream.Close()
	switch {
	case errors.Is(err, stream.ErrStreamClosed), errors.Is(err, stream.ErrTracksChanged),
		errors.Is(err, errNoReaders), errors.Is(err, errRelayReplaced), errors.Is(err, errServerClosed):
		r.log.Info("rtsp relay stopped", "reason", err)
	default:
		r.log.Warn("rtsp relay stopped", "error", err)
	}
}

// write packetizes one unit for every reader at once.
func (r *relay) write(u *stream.Unit) error {
	if u.Track < 0 || u.Track >= len(r.tracks) || r.tracks[u.Track] == nil {
		return nil
	}
	t := r.tracks[u.Track]
	pkts, err := t.encode(u)
	if err != nil {
		r.errs.warn("rtsp packetization error", err, "track", u.Track)
		return nil // one unit lost; the next keyframe repairs it
	}
	for _, pkt := range pkts {
		if err := r.stream.WritePacketRTPWithNTP(t.media, pkt, u.NTP); err != nil {
			r.errs.warn("rtsp write error", err, "track", u.Track)
			return nil
		}
	}
	return nil
}

// retireLocked takes r out of the server's relays and stops it, once. Its
// goroutine then closes the ServerStream. Called with s.mu held.
func (s *Server) retireLocked(r *relay, reason error) {
	if r.retired {
		return
	}
	r.retired = true
	if s.relays[r.st.ID()] == r {
		delete(s.relays, r.st.ID())
	}
	if r.idle != nil {
		r.idle.Stop()
		r.idle = nil
	}
	r.cancel(reason)
}

// removeReader forgets a reader session and, when it was the last one,
// gives the relay ReaderGrace before it stops.
func (s *Server) removeReader(r *relay, ss *gortsplib.ServerSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(r.sessions, ss)
	if len(r.sessions) > 0 || r.retired || r.idle != nil {
		return
	}
	s.startIdleLocked(r)
}

// startIdleLocked arms the timer that stops r after ReaderGrace without
// readers. The timer's goroutine only takes the lock and cancels.
func (s *Server) startIdleLocked(r *relay) {
	r.idleGen++
	gen := r.idleGen
	r.idle = time.AfterFunc(s.cfg.ReaderGrace, func() { s.expire(r, gen) })
}

// expire stops a relay that stayed without readers for ReaderGrace.
func (s *Server) expire(r *relay, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == r.idleGen && r.idle != nil && len(r.sessions) == 0 && !r.retired {
		r.idle = nil
		s.retireLocked(r, errNoReaders)
	}
}
