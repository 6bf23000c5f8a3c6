package hls

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Preload hints.
//
// An LL-HLS playlist ends with EXT-X-PRELOAD-HINT naming the part being
// written, and players (Safari, AVPlayer) request it ahead: the server
// holds the request until the part is complete. gohlslib v2.2.2 serves the
// hinted part with a handler that, when the muxer closes while it waits,
// returns with the muxer's mutex still locked: every other request waiting
// on that muxer then hangs for ever, and so would Close.
//
// So a hinted part never reaches gohlslib before it is complete. The part
// number, the segment (msn) and the index in that segment of the hinted
// part are read from the media playlist; a request for it waits with a
// blocking playlist reload (_HLS_msn, _HLS_part), whose handler gohlslib
// releases correctly on close, then fetches the part, complete by then.

// partName matches gohlslib's part files: {prefix}_{stream}_part{N}.mp4.
var partName = regexp.MustCompile(`^([0-9a-f]+_([A-Za-z0-9]+))_part([0-9]+)\.mp4$`)

// hint is the preload hint of one gohlslib stream, as last seen.
type hint struct {
	base string // file name before "_part"
	id   uint64 // part number
	msn  uint64 // segment the part belongs to
	part uint64 // index of the part in its segment
}

// servePart answers a part request; see above.
func (s *Server) servePart(w http.ResponseWriter, r *http.Request, m *muxer, file string) {
	sub := partName.FindStringSubmatch(file)
	base, sid := sub[1], sub[2]
	n, err := strconv.ParseUint(sub[3], 10, 64)
	if err != nil {
		fileNotFound(w)
		return
	}
	if p := m.parts.get(file); p != nil {
		p.serve(w, r.Method)
		return
	}
	res, err := s.awaitShared(r.Context(), m, file, func(res *response) {
		m.fetchPart(res, http.MethodGet, file, base, sid, n)
	})
	if err == nil && res.status == http.StatusOK {
		m.parts.put(file, res).serve(w, r.Method)
		return
	}
	s.reply(w, m, res, err)
}

// fetchPart runs on an await goroutine: it may block.
func (m *muxer) fetchPart(res *response, method, file, base, sid string, n uint64) {
	h, ok := m.cachedHint(sid)
	if !ok || n > h.id {
		// The part was announced after the hint we know, or we know none.
		var status int
		h, status = m.refreshHint(sid)
		if status != http.StatusOK {
			res.WriteHeader(status)
			return
		}
	}
	if base != h.base || n > h.id {
		// A part of another muxing session, or one not yet announced.
		return
	}
	if n == h.id {
		// Mapping a hinted part to its msn and index holds for ever: it is
		// where gohlslib puts the part once complete.
		wait := innerRequest(http.MethodGet, sid+"_stream.m3u8",
			"_HLS_msn="+strconv.FormatUint(h.msn, 10)+"&_HLS_part="+strconv.FormatUint(h.part, 10))
		waitRes := &response{header: http.Header{}}
		m.hls.Handle(waitRes, wait)
		// 400 means the segment has already left the playlist: the part is
		// gone and gohlslib will not find it.
		if waitRes.status != http.StatusOK && waitRes.status != http.StatusBadRequest {
			res.WriteHeader(waitRes.status)
			return
		}
	}
	// Complete (or expired) by now: gohlslib answers at once.
	m.hls.Handle(res, innerRequest(method, file, ""))
}

func (m *muxer) cachedHint(sid string) (hint, bool) {
	m.hintsMu.Lock()
	defer m.hintsMu.Unlock()
	h, ok := m.hints[sid]
	return h, ok
}

// refreshHint reads the current preload hint of stream sid from its media
// playlist. gohlslib holds that request only until the stream has content.
func (m *muxer) refreshHint(sid string) (hint, int) {
	res := &response{header: http.Header{}}
	m.hls.Handle(res, innerRequest(http.MethodGet, sid+"_stream.m3u8", ""))
	if res.status != http.StatusOK {
		return hint{}, res.status
	}
	h, ok := parseHint(res.body.Bytes())
	if !ok {
		return hint{}, http.StatusInternalServerError
	}
	m.hintsMu.Lock()
	if old, ok := m.hints[sid]; !ok || h.id > old.id {
		m.hints[sid] = h
	} else {
		h = old
	}
	m.hintsMu.Unlock()
	return h, http.StatusOK
}

func parseHint(buf []byte) (hint, bool) {
	pl, err := playlist.Unmarshal(buf)
	if err != nil {
		return hint{}, false
	}
	media, ok := pl.(*playlist.Media)
	if !ok || media.PreloadHint == nil {
		return hint{}, false
	}
	sub := partName.FindStringSubmatch(media.PreloadHint.URI)
	if sub == nil {
		return hint{}, false
	}
	id, err := strconv.ParseUint(sub[3], 10, 64)
	if err != nil {
		return hint{}, false
	}
	return hint{
		base: sub[1],
		id:   id,
		msn:  uint64(media.MediaSequence) + uint64(len(media.Segments)),
		part: uint64(len(media.Parts)),
	}, true
}
