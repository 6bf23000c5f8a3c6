package recorder

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"vitrine/internal/cors"
	"vitrine/internal/httperr"
	"vitrine/store"
)

// corsPolicy lets players on a shop's page read replays.
var corsPolicy = cors.Policy{
	Methods: "GET, HEAD, OPTIONS",
	AllowHeaders: "Range, Accept, Accept-Encoding, Accept-Language, Cache-Control, " +
		"Content-Type, If-Modified-Since, If-None-Match, If-Range, Origin",
	ExposeHeaders: "Content-Length, Content-Range, Content-Type, Cache-Control, Date, Age, ETag, Accept-Ranges",
}

// idPattern is what a campaign (stream) id can look like; anything else
// is answered 404 without a lookup.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Register adds the public replay routes to mux:
//
//	GET /replay/{id}/index.m3u8                        HLS VOD of the whole replay
//	GET /replay/{id}/s{n}/init.mp4, s{n}/{seq}.m4s     its files (Range)
//	GET /replay/{id}/events?from=&to=&limit=&cursor=   the shopping timeline
//	GET /replay/{id}/sequences/{seq}/index.m3u8        a product sequence as HLS VOD
//	GET /replay/{id}/sequences/{seq}/last.m4s          its last segment, cut at the unpin (Range)
//
// A sequence's playlist lists the replay's segments from the one holding
// its keyframe, and ends with last.m4s: the segment holding the unpin, cut
// there (derived on the server from the sequence, like the MP4 download).
// A sequence still pinned at the end of the live, or unpinned on a
// segment boundary, ends with a whole segment and has no last.m4s.
// A playlist asked for with ?viewer=ID names it on its segments too.
func (r *Recorder) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /replay/{id}/index.m3u8", r.servePlaylist)
	mux.HandleFunc("GET /replay/{id}/events", r.serveEvents)
	mux.HandleFunc("GET /replay/{id}/sequences/{seq}/index.m3u8", r.serveSequencePlaylist)
	mux.HandleFunc("GET /replay/{id}/sequences/{seq}/last.m4s", r.serveSequenceLast)
	mux.HandleFunc("GET /replay/{id}/{session}/{file}", r.serveFile)
	mux.HandleFunc("OPTIONS /replay/", func(w http.ResponseWriter, req *http.Request) {
		r.cors.Apply(w.Header(), req)
		r.cors.Preflight(w.Header())
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/replay/", func(w http.ResponseWriter, req *http.Request) {
		r.cors.Apply(w.Header(), req)
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", "replays are read with GET")
			return
		}
		httperr.Write(w, http.StatusNotFound, "not_found", "no such replay resource")
	})
}

// replayOf loads the recording named by the request's {id}, answering
// 404 itself when there is none.
func (r *Recorder) replayOf(w http.ResponseWriter, req *http.Request) (string, *recording, bool) {
	r.cors.Apply(w.Header(), req)
	id := req.PathValue("id")
	if !idPattern.MatchString(id) {
		httperr.Write(w, http.StatusNotFound, "recording_not_found", "no recording with that id")
		return "", nil, false
	}
	rc, err := r.load(req.Context(), id)
	if err != nil {
		r.httpError(w, req, err)
		return "", nil, false
	}
	return id, rc, true
}

// httpError answers an error of the replay routes.
func (r *Recorder) httpError(w http.ResponseWriter, req *http.Request, err error) {
	var fe *FinalisingError
	switch {
	case errors.Is(err, ErrNoRecording):
		httperr.Write(w, http.StatusNotFound, "recording_not_found", "this campaign has no recording")
	case errors.Is(err, ErrNoSequence):
		httperr.Write(w, http.StatusNotFound, "sequence_not_found", "no product sequence with that id")
	case errors.Is(err, ErrInProgress):
		httperr.Write(w, http.StatusConflict, "recording_in_progress", "the live is being recorded: download it once it has ended")
	case errors.As(err, &fe):
		w.Header().Set("Retry-After", strconv.Itoa(int(fe.RetryAfter.Seconds())))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"state": store.RecordingFinalising, "progress": fe.Progress,
			"message": "the video is being prepared; try again shortly"})
	case errors.Is(err, ErrTooLarge):
		httperr.Write(w, http.StatusUnprocessableEntity, "too_large", "the video is over 4 GiB, more than one MP4 file holds: download the product sequences")
	default:
		r.log.Error("replay request failed", "path", req.URL.Path, "error", err)
		httperr.Write(w, http.StatusInternalServerError, "internal_error", "internal error")
	}
}

func (r *Recorder) servePlaylist(w http.ResponseWriter, req *http.Request) {
	_, rc, ok := r.replayOf(w, req)
	if !ok {
		return
	}
	if len(rc.segs) == 0 {
		httperr.Write(w, http.StatusNotFound, "recording_not_found", "the recording has no segment yet")
		return
	}
	b, err := playlist(rc.segs, !rc.live(), "", "", viewerQuery(req))
	if err != nil {
		r.httpError(w, req, err)
		return
	}
	writePlaylist(w, b, rc.live())
}

// viewerQuery is "?viewer=ID" when the playlist's request names its
// viewer with a well-formed id, else "". The playlist carries it to its
// segments' URIs: a VOD player loads the playlist once and then only
// segments, resolved against the playlist's URL without its query, and
// the server's analytics tell a viewer apart by it on every request (as
// gohlslib carries it from a live's multivariant playlist to its media
// playlists).
func viewerQuery(req *http.Request) string {
	v := req.URL.Query().Get("viewer")
	if !idPattern.MatchString(v) {
		return ""
	}
	return "?viewer=" + v
}

func writePlaylist(w http.ResponseWriter, b []byte, live bool) {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	if live {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "public, max-age=30")
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (r *Recorder) serveSequencePlaylist(w http.ResponseWriter, req *http.Request) {
	clip, last, ok := r.sequenceOf(w, req, false)
	if !ok {
		return
	}
	lastURI := ""
	if last != nil {
		clip[len(clip)-1].Duration = last.duration // clip is a copy
		lastURI = lastSegmentFile
	}
	b, err := playlist(clip, true, "../../", lastURI, viewerQuery(req))
	if err != nil {
		r.httpError(w, req, err)
		return
	}
	writePlaylist(w, b, false)
}

// lastSegmentFile is a sequence's last segment cut at its unpin, next to
// its playlist.
const lastSegmentFile = "last.m4s"

// serveSequenceLast serves a sequence's last segment cut at its unpin,
// with Range support; 404 when its playlist ends with a whole segment.
func (r *Recorder) serveSequenceLast(w http.ResponseWriter, req *http.Request) {
	_, last, ok := r.sequenceOf(w, req, true)
	if !ok {
		return
	}
	if last == nil {
		httperr.Write(w, http.StatusNotFound, "not_found", "this sequence ends with a whole segment")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, req, "", last.modTime, bytes.NewReader(last.data))
}

// sequenceOf finds the sequence the request names ({id}, {seq}) and
// returns its segments and its last segment cut at the unpin (nil when
// served whole; with its bytes if withData); false when it answered the
// request with an error.
func (r *Recorder) sequenceOf(w http.ResponseWriter, req *http.Request, withData bool) ([]store.RecordingSegment, *lastSegment, bool) {
	id, rc, ok := r.replayOf(w, req)
	if !ok {
		return nil, nil, false
	}
	seq, err := r.sequence(req.Context(), id, rc, req.PathValue("seq"))
	if err != nil {
		r.httpError(w, req, err)
		return nil, nil, false
	}
	clip := clipSegments(rc.segs, seq.from, seq.to)
	last, err := r.cutLast(rc, seq, clip, withData)
	if err != nil {
		r.httpError(w, req, err)
		return nil, nil, false
	}
	return clip, last, true
}

var segmentFile = regexp.MustCompile(`^([0-9]{1,12})\.m4s$`)

// serveFile serves an init segment or a segment, found by number in the
// index (never by the request's path), with Range support.
func (r *Recorder) serveFile(w http.ResponseWriter, req *http.Request) {
	_, rc, ok := r.replayOf(w, req)
	if !ok {
		return
	}
	notFound := func() { httperr.Write(w, http.StatusNotFound, "not_found", "no such file in this recording") }
	sess := req.PathValue("session")
	if !strings.HasPrefix(sess, "s") {
		notFound()
		return
	}
	n, err := strconv.Atoi(sess[1:])
	if err != nil || n <= 0 || strconv.Itoa(n) != sess[1:] {
		notFound()
		return
	}
	session, ok := rc.sessions[n]
	if !ok {
		notFound()
		return
	}
	file := req.PathValue("file")
	var rel string
	var size int64 = -1
	if file == "init.mp4" {
		rel = session.InitPath
	} else {
		m := segmentFile.FindStringSubmatch(file)
		if m == nil {
			notFound()
			return
		}
		seq, _ := strconv.ParseInt(m[1], 10, 64)
		for _, s := range rc.segs {
			if s.Seq == seq && s.Session == n {
				rel, size = s.Path, s.Size
				break
			}
		}
		if rel == "" {
			notFound()
			return
		}
	}
	path, err := r.abs(rel)
	if err != nil {
		r.httpError(w, req, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		r.log.Warn("indexed file missing", "file", rel, "error", err)
		notFound()
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		r.httpError(w, req, err)
		return
	}
	if size < 0 || size > fi.Size() {
		size = fi.Size()
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "public, max-age=3600")
	// Only the indexed bytes: a fragment being written is not served.
	http.ServeContent(w, req, "", fi.ModTime(), io.NewSectionReader(f, 0, size))
}

// serveEvents answers the replay's shopping timeline. from and to are RFC
// 3339 times on the media clock, or seconds into the replay.
func (r *Recorder) serveEvents(w http.ResponseWriter, req *http.Request) {
	id, rc, ok := r.replayOf(w, req)
	if !ok {
		return
	}
	q := req.URL.Query()
	cm := newClockMap(rc.segs)
	from, err := r.parseBound(q.Get("from"), rc, cm)
	if err != nil {
		httperr.Write(w, http.StatusBadRequest, "invalid_parameter", "from: "+err.Error())
		return
	}
	to, err := r.parseBound(q.Get("to"), rc, cm)
	if err != nil {
		httperr.Write(w, http.StatusBadRequest, "invalid_parameter", "to: "+err.Error())
		return
	}
	limit := 1000
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5000 {
			httperr.Write(w, http.StatusBadRequest, "invalid_parameter", "limit: an integer from 1 to 5000")
			return
		}
		limit = n
	}
	var after int64
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			httperr.Write(w, http.StatusBadRequest, "invalid_cursor", "the cursor was not issued by this list")
			return
		}
		after = n
	}
	evs, err := readEvents(req.Context(), r.st, id)
	if err != nil {
		r.httpError(w, req, err)
		return
	}
	list, more := replayEvents(evs, cm, from, to, after, limit)
	next := ""
	if more && len(list) > 0 {
		next = strconv.FormatInt(list[len(list)-1].Seq, 10)
	}
	var start *time.Time
	if len(rc.segs) > 0 {
		start = &rc.segs[0].StartAt
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{"start": start, "duration": cm.total().Seconds(),
		"events": list, "next_cursor": next})
}

// parseBound reads an RFC 3339 time or a replay offset in seconds.
var secondsPattern = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,20})?$`)

func (r *Recorder) parseBound(s string, rc *recording, cm clockMap) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// Plain decimal seconds only: ParseFloat would also take NaN, Inf,
	// hex and digits with underscores.
	off, err := strconv.ParseFloat(s, 64)
	if err != nil || !secondsPattern.MatchString(s) || off > 1e9 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or seconds into the replay, got %q", s)
	}
	d := time.Duration(off * float64(time.Second))
	for i := len(cm.offsets) - 1; i >= 0; i-- {
		if cm.offsets[i] <= d {
			return cm.starts[i].Add(d - cm.offsets[i]), nil
		}
	}
	return time.Time{}, nil
}

// ServeMP4 answers the whole replay (seqID "") or one product sequence as
// an MP4 download, with Content-Length and Range. Errors are returned
// before anything is written.
func (r *Recorder) ServeMP4(w http.ResponseWriter, req *http.Request, id, seqID string) error {
	if !idPattern.MatchString(id) {
		return ErrNoRecording
	}
	rc, err := r.downloadable(req.Context(), id)
	if err != nil {
		return err
	}
	segs, from, to := rc.segs, time.Time{}, time.Time{}
	title := r.campaignTitle(req.Context(), id)
	name := title + ".mp4"
	if seqID != "" {
		seq, err := r.sequence(req.Context(), id, rc, seqID)
		if err != nil {
			return err
		}
		segs, from, to = clipSegments(rc.segs, seq.from, seq.to), seq.from, seq.to
		name = title + " - " + cmp.Or(seq.Name, seq.ProductID) + ".mp4"
	}
	m, err := r.buildMP4(rc, segs, from, to)
	if err != nil {
		return err
	}
	rd := m.reader()
	defer rd.Close()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Content-Disposition", attachment(name, "replay-"+id+".mp4"))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", fmt.Sprintf(`"%s-%d-%d"`, id, m.size, m.modTime.UnixNano()))
	http.ServeContent(w, req, "", m.modTime, rd)
	return nil
}

var (
	unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	dashes     = regexp.MustCompile(`-{2,}`)
)

// campaignTitle names a campaign's downloads; its id when it has no title
// (or is gone).
func (r *Recorder) campaignTitle(ctx context.Context, id string) string {
	if c, err := r.st.GetCampaign(ctx, id); err == nil && strings.TrimSpace(c.Title) != "" {
		return c.Title
	}
	return id
}

// attachment is a download's Content-Disposition (RFC 6266): the name,
// sanitised, as filename* (UTF-8) and its ASCII form as filename, for
// clients without filename*; fallback when nothing ASCII is left.
func attachment(name, fallback string) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	// No path separators, control or reserved characters, no leading dot.
	clean := strings.Join(strings.FieldsFunc(base, func(c rune) bool {
		return unicode.IsControl(c) || unicode.IsSpace(c) || strings.ContainsRune(`/\:*?"<>|%;`, c) || c == utf8.RuneError
	}), " ")
	clean = strings.TrimLeft(clean, ". ")
	if r := []rune(clean); len(r) > 120 {
		clean = strings.TrimSpace(string(r[:120]))
	}
	ascii := strings.Trim(dashes.ReplaceAllString(unsafeName.ReplaceAllString(clean, "-"), "-"), "-.")
	if len(ascii) > 120 {
		ascii = ascii[:120]
	}
	if clean == "" || ascii == "" {
		if clean == "" {
			return `attachment; filename="` + fallback + `"`
		}
		ascii = strings.TrimSuffix(fallback, path.Ext(fallback))
	}
	return `attachment; filename="` + ascii + ext + `"; filename*=UTF-8''` + strings.ReplaceAll(url.QueryEscape(clean+ext), "+", "%20")
}

func sequenceFileName(id string, s *Sequence) string {
	name := strings.Trim(unsafeName.ReplaceAllString(s.Name, "-"), "-")
	if len(name) > 60 {
		name = name[:60]
	}
	if name == "" {
		name = s.ProductID
	}
	return fmt.Sprintf("%s-%s-%s.mp4", id, s.ID, name)
}

// ServeSequencesZIP answers every product sequence as MP4 files in one ZIP
// (stored, not compressed: video does not compress), streamed.
func (r *Recorder) ServeSequencesZIP(w http.ResponseWriter, req *http.Request, id string) error {
	if !idPattern.MatchString(id) {
		return ErrNoRecording
	}
	rc, err := r.downloadable(req.Context(), id)
	if err != nil {
		return err
	}
	seqs, err := r.sequences(req.Context(), id, rc)
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return ErrNoSequence
	}
	// Lay every file out first: an error now is still an HTTP error.
	files := make([]*mp4File, len(seqs))
	for i := range seqs {
		files[i], err = r.buildMP4(rc, clipSegments(rc.segs, seqs[i].from, seqs[i].to), seqs[i].from, seqs[i].to)
		if err != nil {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", attachment(r.campaignTitle(req.Context(), id)+" - sequences.zip", "sequences-"+id+".zip"))
	h.Set("Cache-Control", "private, no-cache")
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return nil
	}
	zw := zip.NewWriter(w)
	for i, m := range files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: sequenceFileName(id, &seqs[i]), Method: zip.Store,
			Modified: seqs[i].PinnedAt})
		if err != nil {
			return nil // the client went away; nothing more to say
		}
		rd := m.reader()
		_, err = io.Copy(fw, rd)
		rd.Close()
		if err != nil {
			r.log.Warn("sequences ZIP cut short", "campaign", id, "error", err)
			return nil
		}
	}
	if err := zw.Close(); err != nil {
		r.log.Warn("sequences ZIP cut short", "campaign", id, "error", err)
	}
	return nil
}
