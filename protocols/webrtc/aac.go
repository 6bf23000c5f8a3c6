package webrtc

import (
	"context"
	"time"

	"vitrine/internal/aacopus"
	"vitrine/stream"
)

// AACToOpus configures the transcoding of AAC audio (RTMP and RTSP
// sources) to Opus for WHEP viewers: once per stream while it has
// viewers, shared by all of them like the video. LL-HLS, RTSP readers and
// the recorder keep the AAC.
type AACToOpus struct {
	// Disabled leaves AAC sources without sound over WebRTC.
	Disabled bool
	// FFmpeg is the ffmpeg executable (default "ffmpeg" from PATH).
	FFmpeg string
	// Bitrate is the Opus bitrate in bits per second (default 96000).
	Bitrate int
}

// probeAACToOpus tells whether AAC can be transcoded; the reason when not.
func (s *Server) probeAACToOpus() {
	c := s.cfg.AACToOpus
	if c.Disabled {
		s.aacOpus = "AAC audio is not transcoded for WebRTC (webrtc.aac_to_opus.disabled)"
		s.log.Info("whep: " + s.aacOpus + ": WebRTC viewers of AAC sources get the picture only")
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := aacopus.Probe(ctx, c.FFmpeg); err != nil {
		s.aacOpus = err.Error()
		s.log.Warn("whep: WebRTC viewers of AAC sources (OBS, encoders over RTMP or RTSP) get the picture only", "error", err)
		return
	}
	s.log.Info("whep: AAC audio is transcoded to Opus for WebRTC viewers (ffmpeg, once per stream)")
}

// playable is selectTracks with an AAC track carried as Opus when the
// server can transcode it.
func (s *Server) playable(tracks []*stream.Track) trackSelection {
	sel := selectTracks(tracks)
	if sel.index[kindAudio] >= 0 {
		return sel
	}
	for _, t := range tracks {
		c, ok := t.Codec.(*stream.MPEG4Audio)
		if !ok {
			continue
		}
		if s.aacOpus != "" {
			sel.why[kindAudio] = "AAC source: " + s.aacOpus
			return sel
		}
		sel.index[kindAudio], sel.aac, sel.why[kindAudio] = t.Index, c, ""
		return sel
	}
	return sel
}

// setTranscoder starts, replaces or stops the fanout's AAC transcoder for
// the stream's tracks. Fanout goroutine only.
func (f *fanout) setTranscoder(aac *stream.MPEG4Audio) {
	if f.tc != nil && aac != nil && aac.Equal(f.tcCodec) {
		return
	}
	if f.tc != nil {
		_ = f.tc.Close()
		f.tc, f.tcCodec = nil, nil
	}
	if aac == nil {
		return
	}
	c := f.srv.cfg.AACToOpus
	tc, err := aacopus.New(aacopus.Config{FFmpeg: c.FFmpeg, Bitrate: c.Bitrate, Logger: f.srv.cfg.Logger.With("stream", f.id)}, aac.Config, f.onOpus)
	if err != nil {
		f.srv.noteOnce(f.stream, "whep viewers get no audio", "reason", err.Error())
		return
	}
	tc.Start()
	f.tc, f.tcCodec = tc, aac
}

// onOpus shares one transcoded packet with every viewer, as onUnit does a
// source's own Opus. Transcoder goroutine.
func (f *fanout) onOpus(fr aacopus.Frame) {
	ntp := int64(fr.PTS) + f.ntpOffset.Load()
	f.mu.Lock()
	defer f.mu.Unlock()
	ot := f.out[kindAudio]
	if ot == nil || f.closing {
		return
	}
	p := ot.packetizeOpus(fr.PTS, ntp, fr.Data)
	ot.hist.add(p)
	one := [1]*packet{p}
	for _, v := range f.attached {
		v.enqueue(one[:], false)
	}
}
