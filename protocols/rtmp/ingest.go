package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	flvtag "github.com/yutopp/go-flv/tag"

	"vitrine/stream"
)

// Bounds of the setup phase, between the publish command and Hub.Publish.
const (
	// trackWait is how much media (in its own timestamps) may follow the
	// first codec configuration while the session waits for the other
	// track's: an audio-only or video-only encoder without metadata is
	// published after it.
	trackWait = 1000 // ms
	// configTimeout ends a publisher that sends media but no H.264 or AAC
	// configuration at all.
	configTimeout = 5000 // ms
	// maxPending bounds the media held until the tracks are known.
	maxPending      = 1024
	maxPendingBytes = 32 << 20
)

// media is one FLV audio or video tag with its unwrapped timestamp (ms).
type media struct {
	video bool
	ts    int64
	vt    videoTag
	at    audioTag
}

// session is one publish on a connection: it waits for the codec
// configurations, publishes the tracks to the hub, then converts FLV tags to
// units. It runs on the connection's goroutine.
type session struct {
	h    *handler
	log  *slog.Logger
	id   string // stream id
	msid uint32 // RTMP message stream of the publish

	meta *metadata
	ts   tsUnwrapper

	// Setup phase.
	firstTS      int64
	haveFirst    bool
	cfgTS        int64 // timestamp of the first codec configuration
	pending      []media
	pendingBytes int

	// Codec state: the latest configurations.
	video *avcConfig
	audio *mpeg4audio.AudioSpecificConfig

	pub        *stream.Publisher
	videoTrack int // -1 when not published
	audioTrack int
	lastDTS    [2]time.Duration
	haveDTS    [2]bool
	units      uint64
	warned     map[string]bool
	closed     bool
}

func newSession(h *handler, id string, msid uint32) *session {
	return &session{
		h:          h,
		log:        h.c.log.With("stream", id),
		id:         id,
		msid:       msid,
		videoTrack: -1,
		audioTrack: -1,
		warned:     map[string]bool{},
	}
}

func (s *session) onMetadata(payload []byte) {
	if s.closed {
		return
	}
	m, err := parseMetadata(payload)
	if err != nil {
		// Metadata is a hint: without it the session waits for both tracks.
		s.log.Debug("rtmp metadata ignored", "error", err)
		return
	}
	if s.meta == nil {
		s.log.Debug("rtmp metadata", "video", m.VideoCodec, "audio", m.AudioCodec)
	}
	s.meta = &m
}

func (s *session) onVideo(ts uint32, body []byte) error {
	if s.closed {
		return nil
	}
	t, err := parseVideoTag(body)
	if err != nil {
		return err
	}
	if t.Command {
		return nil
	}
	// body is the handler's scratch buffer.
	t.Data = bytes.Clone(t.Data)
	return s.handle(media{video: true, ts: s.ts.unwrap(ts), vt: t})
}

func (s *session) onAudio(ts uint32, body []byte) error {
	if s.closed {
		return nil
	}
	t, err := parseAudioTag(body)
	if err != nil {
		return err
	}
	t.Data = bytes.Clone(t.Data)
	return s.handle(media{ts: s.ts.unwrap(ts), at: t})
}

func (s *session) handle(m media) error {
	if s.pub != nil {
		return s.write(m)
	}
	if !s.haveFirst {
		s.firstTS, s.haveFirst = m.ts, true
	}
	switch {
	case m.video && m.vt.PacketType == flvtag.AVCPacketTypeSequenceHeader:
		cfg, err := parseAVCConfig(m.vt.Data)
		if err != nil {
			return fmt.Errorf("H.264 sequence header: %w", err)
		}
		s.setConfigTS(m.ts)
		s.video = &cfg
	case !m.video && m.at.PacketType == flvtag.AACPacketTypeSequenceHeader:
		cfg, err := parseAACConfig(m.at.Data)
		if err != nil {
			return fmt.Errorf("AAC sequence header: %w", err)
		}
		s.setConfigTS(m.ts)
		s.audio = cfg
	}
	s.pending = append(s.pending, m)
	s.pendingBytes += len(m.vt.Data) + len(m.at.Data)
	if len(s.pending) > maxPending || s.pendingBytes > maxPendingBytes {
		return fmt.Errorf("%d messages (%d bytes) without the codec configurations", len(s.pending), s.pendingBytes)
	}
	ready, err := s.ready(m.ts)
	if !ready || err != nil {
		return err
	}
	return s.publish()
}

func (s *session) setConfigTS(ts int64) {
	if s.video == nil && s.audio == nil {
		s.cfgTS = ts
	}
}

// ready tells whether the tracks are known: every track the metadata
// announced (or, without metadata, both) has its configuration, or one has
// and trackWait of media went by since.
func (s *session) ready(now int64) (bool, error) {
	haveV, haveA := s.video != nil, s.audio != nil
	if s.meta != nil && (s.meta.Video || s.meta.Audio) {
		if (!s.meta.Video || haveV) && (!s.meta.Audio || haveA) {
			return true, nil
		}
	} else if haveV && haveA {
		return true, nil
	}
	if haveV || haveA {
		return now-s.cfgTS >= trackWait, nil
	}
	if now-s.firstTS >= configTimeout {
		return false, fmt.Errorf("no H.264 or AAC sequence header in the first %d ms of media", configTimeout)
	}
	return false, nil
}

// publish attaches the session to the hub with the tracks it knows, then
// writes what was held back.
func (s *session) publish() error {
	var tracks []*stream.Track
	if s.video != nil {
		s.videoTrack = len(tracks)
		tracks = append(tracks, &stream.Track{Index: len(tracks), Codec: &stream.H264{SPS: s.video.SPS, PPS: s.video.PPS}})
	} else if s.meta != nil && s.meta.Video {
		s.log.Warn("rtmp metadata announced video but no H.264 sequence header came: publishing without video")
	}
	if s.audio != nil {
		s.audioTrack = len(tracks)
		tracks = append(tracks, &stream.Track{Index: len(tracks), Codec: &stream.MPEG4Audio{Config: s.audio}})
	} else if s.meta != nil && s.meta.Audio {
		s.log.Warn("rtmp metadata announced audio but no AAC sequence header came: publishing without audio")
	}
	c := s.h.c
	pub, err := c.srv.cfg.Hub.Publish(s.id, stream.PublisherInfo{Protocol: "rtmp", Remote: c.remote}, tracks)
	if err != nil {
		s.videoTrack, s.audioTrack = -1, -1
		if errors.Is(err, stream.ErrAlreadyPublishing) {
			s.h.sendStatus(s.msid, "NetStream.Publish.BadName", err.Error())
			return s.h.refuse(fmt.Errorf("stream %s: %w", s.id, err))
		}
		s.h.sendStatus(s.msid, "NetStream.Publish.Failed", err.Error())
		return fmt.Errorf("publish to the hub: %w", err)
	}
	s.pub = pub
	c.live.Store(true)
	s.watch(pub)

	attrs := []any{"tracks", len(tracks)}
	if s.video != nil {
		w, hgt, _ := (&stream.H264{SPS: s.video.SPS}).Dimensions()
		attrs = append(attrs, "video", fmt.Sprintf("H264 %dx%d", w, hgt))
	}
	if s.audio != nil {
		attrs = append(attrs, "audio", fmt.Sprintf("AAC %d Hz %d ch", s.audio.SampleRate, s.audio.ChannelCount))
	}
	s.log.Info("rtmp publishing", attrs...)

	pending := s.pending
	s.pending, s.pendingBytes = nil, 0
	for _, m := range pending {
		if err := s.write(m); err != nil {
			return err
		}
	}
	return nil
}

// watch ends the connection when the server ends the stream. The goroutine
// is counted in the server's WaitGroup and ends with the connection.
func (s *session) watch(pub *stream.Publisher) {
	c := s.h.c
	c.srv.wg.Add(1) // the connection's own count is held: no race with Wait
	go func() {
		defer c.srv.wg.Done()
		select {
		case <-pub.Done():
			c.abort(errStreamEnded)
		case <-c.closing:
		}
	}()
}

// write converts one tag of a published session to a unit.
func (s *session) write(m media) error {
	if m.video {
		return s.writeVideo(m)
	}
	return s.writeAudio(m)
}

func (s *session) writeVideo(m media) error {
	if s.videoTrack < 0 {
		s.warnOnce("video", "rtmp video ignored: the stream was published without a video track")
		return nil
	}
	switch m.vt.PacketType {
	case flvtag.AVCPacketTypeSequenceHeader:
		cfg, err := parseAVCConfig(m.vt.Data)
		if err != nil {
			return fmt.Errorf("H.264 sequence header: %w", err)
		}
		if !bytes.Equal(cfg.SPS, s.video.SPS) || !bytes.Equal(cfg.PPS, s.video.PPS) {
			// Readers get the new parameter sets in band, before the next IDR.
			s.log.Info("rtmp H.264 parameters changed")
		}
		s.video = &cfg
		return nil
	case flvtag.AVCPacketTypeEOS:
		return nil
	}
	nalus, err := splitAVCC(m.vt.Data, s.video.LengthSize)
	if errors.Is(err, errNoNALUs) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("H.264 frame: %w", err)
	}
	au, key := accessUnit(nalus, s.video.SPS, s.video.PPS)
	dts := time.Duration(m.ts) * time.Millisecond
	s.emit(s.videoTrack, 0, dts, dts+time.Duration(m.vt.CTS)*time.Millisecond, key, au)
	return nil
}

func (s *session) writeAudio(m media) error {
	if s.audioTrack < 0 {
		s.warnOnce("audio", "rtmp audio ignored: the stream was published without an audio track")
		return nil
	}
	if m.at.PacketType == flvtag.AACPacketTypeSequenceHeader {
		cfg, err := parseAACConfig(m.at.Data)
		if err != nil {
			return fmt.Errorf("AAC sequence header: %w", err)
		}
		if !(&stream.MPEG4Audio{Config: cfg}).Equal(&stream.MPEG4Audio{Config: s.audio}) {
			// Track parameters are fixed for the life of a publisher; a
			// reconnection publishes the new ones.
			return fmt.Errorf("AAC configuration changed mid-stream (%d Hz %d ch to %d Hz %d ch): reconnect to apply it",
				s.audio.SampleRate, s.audio.ChannelCount, cfg.SampleRate, cfg.ChannelCount)
		}
		return nil
	}
	if len(m.at.Data) == 0 {
		return nil
	}
	dts := time.Duration(m.ts) * time.Millisecond
	s.emit(s.audioTrack, 1, dts, dts, true, [][]byte{m.at.Data})
	return nil
}

// emit writes a unit. Muxers downstream need non-decreasing DTS per track
// and PTS >= DTS; an encoder that breaks either (clock jitter on audio,
// bogus composition times) is clamped rather than dropped.
func (s *session) emit(track, slot int, dts, pts time.Duration, key bool, payload [][]byte) {
	if s.haveDTS[slot] && dts < s.lastDTS[slot] {
		s.warnOnce(fmt.Sprintf("dts%d", slot), "rtmp timestamps went backwards: clamped", "track", track,
			"dts", dts, "previous", s.lastDTS[slot])
		dts = s.lastDTS[slot]
	}
	pts = max(pts, dts)
	s.lastDTS[slot], s.haveDTS[slot] = dts, true
	s.units++
	s.pub.Write(&stream.Unit{Track: track, DTS: dts, PTS: pts, Key: key, Payload: payload})
}

func (s *session) warnOnce(what, msg string, attrs ...any) {
	if s.warned[what] {
		return
	}
	s.warned[what] = true
	s.log.Warn(msg, attrs...)
}

// close detaches the publisher; the stream then waits for a reconnection.
func (s *session) close() {
	if s.closed {
		return
	}
	s.closed = true
	s.pending = nil
	if s.pub != nil {
		s.pub.Close()
	}
}

func (s *session) logAttrs() []any {
	return []any{"stream", s.id, "units", s.units}
}
