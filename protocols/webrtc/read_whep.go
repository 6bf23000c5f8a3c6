package webrtc

import (
	"context"
	"errors"
	"fmt"
)

// errStreamNotFound: WHEP for a stream that is not live (404).
var errStreamNotFound = errors.New("stream is not live")

// startWHEP builds a viewer's session on the stream's fanout and returns its
// answer.
func (s *Server) startWHEP(ctx context.Context, streamID string, body []byte, info ViewerInfo) (*session, string, error) {
	st, ok := s.cfg.Hub.Get(streamID)
	if !ok || !st.Online() {
		return nil, "", errStreamNotFound
	}
	tracks := st.Tracks()
	if len(tracks) == 0 {
		return nil, "", errStreamNotFound
	}
	sel := s.playable(tracks)
	o, err := chooseWHEP(body, sel)
	if err != nil {
		return nil, "", err
	}
	if err := s.reserve(kindWHEP, streamID); err != nil {
		return nil, "", err
	}
	ss := newSession(s, kindWHEP, streamID)
	ss.ufrag = o.ufrag
	v := newViewer(ss)
	for k := range numKinds {
		if o.choice[k] != nil {
			v.tracks[k] = newViewerTrack(k, streamID)
		}
	}
	f, err := s.joinFanout(st, v)
	if err != nil {
		ss.cancel(err) // releases the session's context
		s.release(kindWHEP, streamID)
		return nil, "", err
	}
	v.fanout = f
	ss.teardown = func() { f.leave(v) }
	fail := func(err error) (*session, string, error) {
		s.release(kindWHEP, streamID)
		ss.abort(err)
		return nil, "", err
	}
	m, ir, err := playbackEngine(o)
	if err != nil {
		return fail(err)
	}
	if err := ss.newPeer(s.api(m, ir)); err != nil {
		return fail(err)
	}
	if s.cfg.OnDataChannel != nil {
		ss.serveDataChannels(s.cfg.OnDataChannel)
	}
	answer, err := ss.answer(ctx, o, func() error {
		for k := range numKinds {
			if v.tracks[k] == nil {
				continue
			}
			sender, err := ss.pc.AddTrack(v.tracks[k])
			if err != nil {
				return fmt.Errorf("add %s track: %w", k, err)
			}
			ss.spawn(func() { v.readRTCP(sender, k) })
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	ss.onConnected = func() {
		ss.spawn(v.run)
		f.attach(v)
		if s.cfg.OnViewer != nil {
			info.SessionID = ss.id
			left := s.cfg.OnViewer(info)
			leave := ss.teardown
			ss.teardown = func() {
				leave()
				left()
			}
		}
	}
	if !s.ownSession(ss) {
		ss.abort(errServerClosed)
		return nil, "", errServerClosed
	}
	go ss.run(s.cfg.ConnectTimeout)
	for _, why := range o.skipped {
		ss.log.Debug("whep offer", "note", why)
	}
	return ss, answer, nil
}
