package webrtc

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"weak"

	"vitrine/internal/aacopus"
	"vitrine/stream"
)

// fanout is the WHEP side of one live stream: a single hub reader whose units
// are packetized once, into packets every viewer of the stream shares. It
// lives while the stream has viewers.
//
// Fan-out cost per viewer and packet is a pointer pushed on the viewer's
// queue; the viewer's own goroutine stamps its SSRC and payload type on a
// header copy and hands the shared payload to pion, which encrypts it with
// the viewer's SRTP keys. A slow viewer fills its own queue and loses its
// own packets (viewer.go); it never delays the fanout.
type fanout struct {
	srv    *Server
	id     string
	stream *stream.Stream
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closing  bool
	members  map[*viewer]struct{} // every viewer of the stream, from POST on
	attached []*viewer            // viewers receiving packets (connected)
	out      [numKinds]*outTrack
	byIndex  []*outTrack // hub track index -> its packetizer, nil: not carried
	bframes  bool

	scratch []*packet // fanout goroutine only
	gop     []*packet // under mu

	// tc transcodes an AAC source to Opus (fanout goroutine only).
	// ntpOffset is the capture clock minus PTS (ns) of the video's last
	// unit (of the audio's without video): every packet's capture time
	// is its PTS plus it, so that the sender reports of both tracks
	// follow the PTS that align them, as LL-HLS and recordings do (a
	// publisher's own capture times may disagree between its tracks).
	tc        *aacopus.Transcoder
	tcCodec   *stream.MPEG4Audio
	ntpOffset atomic.Int64
}

func newFanout(s *Server, st *stream.Stream) *fanout {
	f := &fanout{
		srv:     s,
		id:      st.ID(),
		stream:  st,
		log:     s.log.With("stream", st.ID()),
		members: map[*viewer]struct{}{},
	}
	f.ctx, f.cancel = context.WithCancel(s.ctx)
	return f
}

// joinFanout adds v to the fanout of stream st, starting the fanout if needed.
func (s *Server) joinFanout(st *stream.Stream, v *viewer) (*fanout, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errServerClosed
	}
	if f := s.fanouts[st.ID()]; f != nil && f.stream == st && f.join(v) {
		return f, nil
	}
	// No fanout, a fanout of an older stream of the same id (it ends by
	// itself), or one that is stopping: a new one.
	f := newFanout(s, st)
	f.join(v)
	s.fanouts[st.ID()] = f
	s.wg.Add(1)
	go f.run()
	return f, nil
}

func (s *Server) dropFanout(f *fanout) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fanouts[f.id] == f {
		delete(s.fanouts, f.id)
	}
}

// run reads the stream until it ends or the last viewer leaves. When the
// publisher comes back with other codec parameters, the hub ends the reader
// and a new one continues on the same packetizers: viewers keep their
// sequence numbers and get the new parameter sets with the next keyframe.
func (f *fanout) run() {
	defer f.srv.wg.Done()
	err := f.read()
	f.setTranscoder(nil)
	f.finish(err)
}

func (f *fanout) read() error {
	for {
		r, err := f.stream.AddReader("whep")
		if err != nil {
			return err
		}
		f.setTracks(f.stream.Tracks())
		err = r.Run(f.ctx, f.onUnit)
		if !errors.Is(err, stream.ErrTracksChanged) {
			return err
		}
		f.log.Info("whep: stream tracks changed; viewers continue with the new ones")
	}
}

func (f *fanout) setTracks(tracks []*stream.Track) {
	sel := f.srv.playable(tracks)
	if sel.index[kindAudio] < 0 {
		f.srv.noteOnce(f.stream, "whep viewers get no audio", "reason", sel.why[kindAudio])
	}
	f.setTranscoder(sel.aac)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byIndex = make([]*outTrack, len(tracks))
	for k := range numKinds {
		if sel.index[k] < 0 {
			continue
		}
		if f.out[k] == nil {
			f.out[k] = newOutTrack(k)
		}
		f.out[k].hist.reset()
		f.byIndex[sel.index[k]] = f.out[k]
	}
}

// onUnit packetizes one unit and queues its packets to every viewer.
func (f *fanout) onUnit(u *stream.Unit) error {
	if u.Track < 0 || u.Track >= len(f.byIndex) {
		return nil
	}
	ot := f.byIndex[u.Track]
	if ot == nil {
		return nil
	}
	if !u.NTP.IsZero() && (ot.kind == kindVideo || f.out[kindVideo] == nil) {
		f.ntpOffset.Store(u.NTP.UnixNano() - int64(u.PTS))
	}
	if ot.kind == kindAudio && f.tc != nil {
		if len(u.Payload) > 0 {
			f.tc.Write(u.PTS, u.Payload[0])
		}
		return nil
	}
	pkts := f.scratch[:0]
	if ot.kind == kindVideo {
		if isBFrame(u.Payload) {
			if !f.bframes {
				f.mu.Lock()
				f.bframes = true
				f.mu.Unlock()
				f.log.Warn("whep: the source sends B-frames, which browsers cannot decode over WebRTC: " +
					"viewers get its I and P frames only; configure the encoder without B-frames (bframes=0)")
			}
			return nil
		}
		pkts = ot.packetizeH264(u, pkts)
	} else {
		if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
			return nil
		}
		pkts = append(pkts, ot.packetizeOpus(u.PTS, int64(u.PTS)+f.ntpOffset.Load(), u.Payload[0]))
	}
	f.mu.Lock()
	for _, p := range pkts {
		ot.hist.add(p)
	}
	for _, v := range f.attached {
		v.enqueue(pkts, false)
	}
	f.mu.Unlock()
	clear(pkts)
	f.scratch = pkts[:0]
	return nil
}

// join adds a viewer; false when the fanout is stopping.
func (f *fanout) join(v *viewer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	f.members[v] = struct{}{}
	return true
}

// attach starts sending to a connected viewer. Video starts on a keyframe:
// the packets since the last one are replayed at once, then the live ones
// follow (the viewer decodes at once; its timestamps are the stream's own).
// Without a replayable keyframe the viewer waits for the next one, and a
// WHIP publisher is asked for it.
func (f *fanout) attach(v *viewer) {
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return
	}
	replayed := 0
	if ot := f.out[kindVideo]; ot != nil && v.tracks[kindVideo] != nil && !f.srv.cfg.NoGOPReplay {
		f.gop = ot.hist.gop(f.gop[:0])
		replayed = len(f.gop)
		v.enqueue(f.gop, false)
		clear(f.gop)
	}
	f.attached = append(f.attached, v)
	f.mu.Unlock()

	if v.tracks[kindVideo] != nil {
		if replayed == 0 {
			asked := f.srv.requestKeyframe(f.id)
			v.ss.log.Debug("whep viewer waits for a keyframe", "asked_publisher", asked)
		} else {
			v.ss.log.Debug("whep viewer starts on the cached keyframe", "packets", replayed)
		}
	}
}

// leave removes a viewer; the last one stops the fanout.
func (f *fanout) leave(v *viewer) {
	f.mu.Lock()
	delete(f.members, v)
	if i := slices.Index(f.attached, v); i >= 0 {
		f.attached = slices.Delete(f.attached, i, i+1)
	}
	last := len(f.members) == 0 && !f.closing
	if last {
		f.closing = true
	}
	f.mu.Unlock()
	if last {
		f.cancel()
		f.srv.dropFanout(f)
	}
}

// retransmit returns the packets of kind still held with these sequence
// numbers, for a NACK.
func (f *fanout) retransmit(kind trackKind, seqs []uint16, dst []*packet) []*packet {
	f.mu.Lock()
	defer f.mu.Unlock()
	ot := f.out[kind]
	if ot == nil {
		return dst
	}
	for _, s := range seqs {
		if p := ot.hist.get(s); p != nil {
			dst = append(dst, p)
		}
	}
	return dst
}

// finish ends the viewers when the stream ended (or the fanout failed).
func (f *fanout) finish(err error) {
	f.mu.Lock()
	f.closing = true
	members := make([]*viewer, 0, len(f.members))
	for v := range f.members {
		members = append(members, v)
	}
	f.attached = nil
	f.mu.Unlock()
	f.cancel()
	f.srv.dropFanout(f)

	cause := errStreamEnded
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Cause(f.ctx)
	case err != nil && !errors.Is(err, stream.ErrStreamClosed):
		f.log.Warn("whep fanout stopped", "error", err)
	}
	for _, v := range members {
		v.ss.close(cause)
	}
}

func (f *fanout) stop() { f.cancel() }

// bframesNote says what B-frames do to WebRTC viewers.
const bframesNote = "the source sends B-frames: WebRTC viewers get its I and P frames only (a lower frame rate); encode without B-frames"

// notes lists what degrades playback, for StreamInfo.
func (f *fanout) notes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bframes {
		return []string{bframesNote}
	}
	return nil
}

// noteOnce logs a playback limitation once per stream (not per viewer).
func (s *Server) noteOnce(st *stream.Stream, msg string, attrs ...any) {
	s.mu.Lock()
	seen := s.noted[st.ID()].Value() == st
	s.noted[st.ID()] = weak.Make(st)
	s.mu.Unlock()
	if !seen {
		s.log.Info(msg, append([]any{"stream", st.ID()}, attrs...)...)
	}
}

// attachedSnapshot lists the viewers receiving packets.
func (f *fanout) attachedSnapshot() []*viewer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attached)
}
