package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/pion/rtp"

	"vitrine/stream"
)

// Bounds on the NTP times of RTCP sender reports. A camera whose clock is off
// would put its frames minutes away from the overlay events of the same
// moment; beyond these bounds the arrival time is the better truth.
const (
	maxNTPAhead  = 2 * time.Second  // capture after arrival: impossible
	maxNTPBehind = 10 * time.Second // more than any sane ingest latency
)

var errEnded = errors.New("stream ended by the server")

// publishSession is an RTSP session that announced a stream: from ANNOUNCE
// to the session's end. Its request callbacks run on the session's
// goroutine, its packet callbacks on the connection's or the UDP listener's;
// mu orders them.
type publishSession struct {
	srv    *Server
	log    *slog.Logger
	ss     *gortsplib.ServerSession
	conn   *conn
	id     string // stream id
	remote string
	start  time.Time
	// transport is "TCP" or "UDP", known from RECORD on.
	transport string
	errs      rateLog
	lost      rateLog

	mu       sync.Mutex
	tracks   []*ingestTrack
	recordAt time.Time
	pub      *stream.Publisher
	ended    bool
	done     chan struct{} // closed at the session's end; stops the watcher
	units    uint64
	ntpTrust int  // 0 undecided, 1 sender reports trusted, -1 not
	kicked   bool // the server ended the stream
	failed   bool // dropped by us, already logged
	warned   map[string]bool
}

// announce authorises a publisher and picks the tracks it will take.
func (s *Server) announce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	log := s.log.With("remote", remote)
	key := streamName(ctx.Path)
	if key == "" {
		return s.refused(log, refuse(base.StatusNotFound, "publish to rtsp://HOST:PORT/%s/{stream_key}", liveApp),
			"path", redactPath(ctx.Path))
	}
	if s.overSessionLimit() {
		return s.refused(log, refuse(base.StatusServiceUnavailable, "too many sessions"))
	}
	actx, cancel := context.WithTimeout(s.ctx, authTimeout)
	id, err := s.cfg.Auth.AuthorizePublish(actx, stream.PublishRequest{Key: key, Protocol: "rtsp", Remote: remote})
	cancel()
	switch {
	case errors.Is(err, stream.ErrUnauthorized):
		// 403, not 401: the key is in the URL, and RTSP credentials would
		// not help. A 401 would make clients prompt or retry with Basic auth.
		return s.refused(log, refuse(base.StatusForbidden, "%v", err), "key", redactKey(key))
	case errors.Is(err, stream.ErrNotLive):
		return s.refused(log, refuse(base.StatusForbidden, "%v", err), "key", redactKey(key))
	case err != nil:
		// Our failure, not the publisher's: logged as such.
		log.Error("rtsp publish authorisation failed", "key", redactKey(key), "error", err)
		r := refuse(base.StatusInternalServerError, "authorisation failed")
		return r.response(), r
	}
	log = log.With("stream", id)
	// Refuse a second publisher now rather than after SETUP; Hub.Publish
	// checks again at RECORD.
	if st, found := s.cfg.Hub.Get(id); found && st.Online() {
		return s.refused(log, refuse(base.StatusMethodNotValidInThisState, "%v", stream.ErrAlreadyPublishing))
	}
	tracks, ignored := selectTracks(ctx.Description)
	for _, why := range ignored {
		log.Info("rtsp track ignored", "track", why)
	}
	if len(tracks) == 0 {
		return s.refused(log, refuse(base.StatusUnsupportedMediaType, "no H.264, AAC or Opus track"))
	}
	ps := &publishSession{
		srv:    s,
		log:    log,
		ss:     ctx.Session,
		conn:   connOf(ctx.Conn.NetConn()),
		id:     id,
		remote: remote,
		start:  time.Now(),
		tracks: tracks,
		done:   make(chan struct{}),
		warned: map[string]bool{},
	}
	ps.errs = rateLog{log: log, every: errLogInterval}
	ps.lost = rateLog{log: log, every: errLogInterval}
	ctx.Session.SetUserData(ps)
	log.Info("rtsp publish accepted", "key", redactKey(key), "tracks", trackNames(tracks))
	return ok(), nil
}

// refused logs a refusal and returns it as the handler's answer.
func (s *Server) refused(log *slog.Logger, r *refusal, attrs ...any) (*base.Response, error) {
	log.Warn("rtsp request refused", append(attrs, "status", int(r.status), "reason", r.reason)...)
	return r.response(), r
}

func trackNames(tracks []*ingestTrack) string {
	names := make([]string, len(tracks))
	for i, t := range tracks {
		names[i] = t.name
	}
	return strings.Join(names, ",")
}

// setup accepts the SETUP of an announced media; gortsplib has checked the
// transport and that the media was announced.
func (ps *publishSession) setup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return ok(), nil, nil
}

// record starts taking packets, and publishes to the hub at once when every
// track's parameters are known (always, except for H.264 whose SDP has no
// sprop-parameter-sets: then at the first in-band SPS and PPS).
func (ps *publishSession) record(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.recordAt = time.Now()
	ps.transport = ctx.Session.SetuppedTransport().String()
	for _, t := range ps.tracks {
		ctx.Session.OnPacketRTP(t.media, t.format, func(pkt *rtp.Packet) { ps.onPacket(t, pkt) })
	}
	if ps.ready() {
		if r := ps.publishLocked(false); r != nil {
			return ps.srv.refused(ps.log, r)
		}
	} else {
		ps.log.Info("rtsp waiting for in-band H.264 parameter sets (none in the SDP)",
			"for", ps.srv.cfg.ParamsTimeout)
	}
	if ps.conn != nil {
		ps.conn.setActive(true)
	}
	return ok(), nil
}

// ready tells whether every track has its parameters.
func (ps *publishSession) ready() bool {
	for _, t := range ps.tracks {
		if t.dec.codec() == nil {
			return false
		}
	}
	return true
}

// publishLocked attaches the session to the hub with the tracks whose
// parameters are known (all of them unless partial) and starts watching
// for the server ending the stream.
func (ps *publishSession) publishLocked(partial bool) *refusal {
	var tracks []*stream.Track
	for _, t := range ps.tracks {
		c := t.dec.codec()
		if c == nil {
			if !partial {
				return refuse(base.StatusInternalServerError, "track parameters unknown")
			}
			ps.log.Warn("rtsp publishing without this track: no parameters came", "track", t.name)
			continue
		}
		t.index = len(tracks)
		tracks = append(tracks, &stream.Track{Index: t.index, Codec: c})
	}
	pub, err := ps.srv.cfg.Hub.Publish(ps.id, stream.PublisherInfo{Protocol: "rtsp", Remote: ps.remote}, tracks)
	if err != nil {
		for _, t := range ps.tracks {
			t.index = -1
		}
		switch {
		case errors.Is(err, stream.ErrAlreadyPublishing):
			return refuse(base.StatusMethodNotValidInThisState, "%v", err)
		case errors.Is(err, stream.ErrHubClosed), errors.Is(err, stream.ErrStreamClosed):
			return refuse(base.StatusServiceUnavailable, "%v", err)
		default:
			return refuse(base.StatusInternalServerError, "publish: %v", err)
		}
	}
	ps.pub = pub
	ps.watch(pub)

	attrs := []any{"transport", ps.transport, "tracks", len(tracks)}
	for _, t := range tracks {
		switch c := t.Codec.(type) {
		case *stream.H264:
			w, h, _ := c.Dimensions()
			attrs = append(attrs, "video", fmt.Sprintf("H264 %dx%d", w, h))
		case *stream.MPEG4Audio:
			attrs = append(attrs, "audio", fmt.Sprintf("AAC %d Hz %d ch", c.Config.SampleRate, c.Config.ChannelCount))
		case *stream.Opus:
			attrs = append(attrs, "audio", fmt.Sprintf("Opus %d ch", c.ChannelCount))
		}
	}
	ps.log.Info("rtsp publishing", attrs...)
	return nil
}

// watch closes the session when the server ends the stream. The goroutine
// is counted in the server's WaitGroup: it is started from a gortsplib
// callback, which Server.Close waits for before it waits for the group.
func (ps *publishSession) watch(pub *stream.Publisher) {
	s := ps.srv
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-pub.Done():
			ps.mu.Lock()
			ps.kicked = true
			ps.mu.Unlock()
			ps.ss.Close()
		case <-ps.done:
		}
	}()
}

// onPacket converts one RTP packet to units.
func (ps *publishSession) onPacket(t *ingestTrack, pkt *rtp.Packet) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.ended {
		return
	}
	// Packets of every UDP publisher arrive on one goroutine of gortsplib's,
	// which does not recover: a parser bug on one malformed packet must end
	// this session, not the process.
	defer func() {
		if p := recover(); p != nil {
			ps.log.Error("rtsp packet handler panic", "panic", p, "stack", string(debug.Stack()))
			ps.fail(fmt.Errorf("internal error: %v", p))
		}
	}()
	// gortsplib times every track from the session's start; it knows a
	// video packet's time once it has seen a random access point.
	pts, known := ps.ss.PacketPTS2(t.media, pkt)
	if !known {
		return
	}
	frames, err := t.dec.decode(pkt, pts)
	if err != nil {
		ps.errs.warn("rtsp depacketization error", err, "track", t.name)
	}
	if ps.pub == nil && !ps.publishLate() {
		return
	}
	if len(frames) == 0 || t.index < 0 {
		return
	}
	ntp, haveNTP := ps.ss.PacketNTP(t.media, pkt)
	for _, f := range frames {
		var fntp time.Time
		if haveNTP {
			fntp = ps.trustNTP(ntp.Add(ticksToDuration(f.pts-pts, t.rate)))
		}
		ps.emit(t, f, fntp)
	}
}

// publishLate publishes once the in-band parameters came, or without the
// tracks still lacking them after ParamsTimeout; it reports whether the
// session is now published. The frame that carried the parameters is the
// first one written.
func (ps *publishSession) publishLate() bool {
	partial := false
	if !ps.ready() {
		if time.Since(ps.recordAt) < ps.srv.cfg.ParamsTimeout {
			return false
		}
		partial = true
		known := 0
		for _, t := range ps.tracks {
			if t.dec.codec() != nil {
				known++
			}
		}
		if known == 0 {
			ps.fail(fmt.Errorf("no H.264 parameter sets (SPS, PPS) in the SDP nor in the first %v of media",
				ps.srv.cfg.ParamsTimeout))
			return false
		}
	}
	if r := ps.publishLocked(partial); r != nil {
		ps.fail(r)
		return false
	}
	return true
}

// fail ends a recording session for err; packets are ignored meanwhile.
func (ps *publishSession) fail(err error) {
	ps.ended, ps.failed = true, true
	ps.log.Warn("rtsp publisher dropped", "error", err)
	ps.ss.Close()
}

// emit writes one frame as a unit. Muxers downstream need non-decreasing DTS
// per track and PTS >= DTS; a publisher that breaks either (jitter, bogus
// picture order) is clamped rather than dropped.
func (ps *publishSession) emit(t *ingestTrack, f frame, ntp time.Time) {
	dts := ticksToDuration(f.dts, t.rate)
	pts := ticksToDuration(f.pts, t.rate)
	if t.haveDTS && dts < t.lastDTS {
		ps.warnOnce("dts-"+t.name, "rtsp timestamps went backwards: clamped", "track", t.name,
			"dts", dts, "previous", t.lastDTS)
		dts = t.lastDTS
	}
	pts = max(pts, dts)
	t.lastDTS, t.haveDTS = dts, true
	ps.units++
	ps.pub.Write(&stream.Unit{Track: t.index, PTS: pts, DTS: dts, NTP: ntp, Key: f.key, Payload: f.payload})
}

// trustNTP decides once per session, on the first sender report, whether the
// encoder's clock is usable; if not, units go without NTP and the hub
// derives it from their arrival.
func (ps *publishSession) trustNTP(ntp time.Time) time.Time {
	if ps.ntpTrust == 0 {
		skew := time.Since(ntp)
		if skew < -maxNTPAhead || skew > maxNTPBehind {
			ps.ntpTrust = -1
			ps.log.Warn("rtsp publisher clock is off: using arrival times", "skew", skew.Round(time.Millisecond))
		} else {
			ps.ntpTrust = 1
		}
	}
	if ps.ntpTrust < 0 {
		return time.Time{}
	}
	return ntp
}

func (ps *publishSession) warnOnce(what, msg string, attrs ...any) {
	if ps.warned[what] {
		return
	}
	ps.warned[what] = true
	ps.log.Warn(msg, attrs...)
}

func (ps *publishSession) packetsLost(n uint64) {
	ps.lost.warn("rtsp RTP packets lost", fmt.Errorf("%d lost", n))
}

// close ends the session: the publisher detaches and the stream waits for a
// reconnection. gortsplib calls it once, after the last packet callback.
func (ps *publishSession) close(reason error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.ended = true
	close(ps.done)
	if ps.conn != nil {
		ps.conn.setActive(false)
	}
	if ps.kicked {
		reason = errEnded
	}
	attrs := []any{"duration", time.Since(ps.start).Round(time.Millisecond), "units", ps.units}
	if ps.pub != nil {
		ps.pub.Close()
	}
	switch {
	case ps.failed:
		ps.log.Debug("rtsp publish session closed", append(attrs, "reason", reason)...)
	case ps.pub == nil:
		ps.log.Info("rtsp publish session ended before publishing", append(attrs, "reason", reason)...)
	case ps.kicked || isNormalEnd(reason):
		ps.log.Info("rtsp publisher disconnected", append(attrs, "reason", reason)...)
	default:
		ps.log.Warn("rtsp publisher dropped", append(attrs, "error", reason)...)
	}
}
