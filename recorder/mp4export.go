package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"vitrine/store"
)

// MP4 export. A replay (or a product sequence) becomes one progressive MP4
// (mediacommon pmp4: ftyp, moov, then one mdat) without being written to
// disk or held in memory: the moov is built from the fragments' sample
// tables, and the mdat is the samples' bytes read from the segment files
// as the client asks for them. So the size is known before the first byte
// (Content-Length) and any byte range can be served (seeking players,
// resumed downloads).

// exportSample locates one sample's bytes.
type exportSample struct {
	file int32
	size uint32
	off  int64
}

// mp4File is the layout of an exported MP4.
type mp4File struct {
	header  []byte // ftyp, moov and the mdat box header
	files   []string
	samples []exportSample // in mdat order
	ends    []int64        // end position of each sample in the file
	size    int64
	modTime time.Time
	// Duration is the presentation's duration; frames counts video samples.
	duration time.Duration
	frames   int

	// With keepPresentation (tests), the presentation and each track's
	// samples, to marshal it with pmp4 and compare.
	pres *pmp4.Presentation
	src  [][]srcSample
}

var keepPresentation = false

// srcSample is a sample of the source segments with its media time.
type srcSample struct {
	sampleInfo
	file  int32
	wall  time.Time     // media clock of its presentation
	dwall time.Time     // media clock of its decoding
	dts   time.Duration // on the stream timeline
}

type srcTrack struct {
	id        int
	timeScale uint32
	codec     mp4.Codec
	samples   []srcSample
}

var errHeaderDone = errors.New("header written")

// buildMP4 lays out the MP4 of segs. With from and to set (a sequence),
// video starts at the last keyframe at or before from and ends before to,
// audio covers the same span.
func (r *Recorder) buildMP4(rc *recording, segs []store.RecordingSegment, from, to time.Time) (*mp4File, error) {
	if len(segs) == 0 {
		return nil, ErrNoRecording
	}
	m := &mp4File{}
	in, err := r.readInit(rc.sessions[segs[0].Session])
	if err != nil {
		return nil, err
	}
	var video, audio *srcTrack
	byID := map[int]*srcTrack{}
	for _, t := range in.Tracks {
		st := &srcTrack{id: t.ID, timeScale: t.TimeScale, codec: t.Codec}
		if t.Codec.IsVideo() && video == nil {
			video = st
		} else if !t.Codec.IsVideo() && audio == nil {
			audio = st
		} else {
			continue
		}
		byID[t.ID] = st
	}

	session := segs[0].Session
	for _, seg := range segs {
		if seg.Session != session {
			// A later session: its tracks must fit the first one's (same
			// kinds and clock rates); parameter sets ride in band.
			if err := r.sameTracks(rc.sessions[seg.Session], byID); err != nil {
				r.log.Warn("export stops at a session with other tracks", "segment", seg.Seq, "reason", err)
				break
			}
			session = seg.Session
		}
		path, err := r.abs(seg.Path)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil && fi.ModTime().After(m.modTime) {
			m.modTime = fi.ModTime()
		}
		ts, err := parseFragments(f, seg.Size)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", seg.Seq, err)
		}
		fileIdx := int32(len(m.files))
		m.files = append(m.files, path)
		for id, samples := range ts {
			t := byID[id]
			if t == nil {
				continue
			}
			t.samples = appendSamples(t.samples, seg, samples, t.timeScale, fileIdx)
		}
	}

	// Trim to the sequence.
	if !from.IsZero() {
		audioFrom := from
		if video != nil && len(video.samples) > 0 {
			start := -1
			for i, s := range video.samples {
				if s.Sync && !s.wall.After(from) {
					start = i
				}
			}
			if start < 0 {
				for i, s := range video.samples {
					if s.Sync {
						start = i
						break
					}
				}
			}
			if start < 0 {
				return nil, ErrNoSequence
			}
			video.samples = video.samples[start:videoEnd(video.samples, start, to)]
			// Audio covers the clip on the shared wall clock: from the
			// keyframe's presentation to the unpin. (The video may run a
			// reference frame past it; the audio need not follow.)
			audioFrom = video.samples[0].wall
		}
		if audio != nil {
			audio.samples = presentedWithin(audio.samples, audioFrom, to)
		}
	}

	// The presentation: each track offset from the earliest start.
	var tracks []*srcTrack
	for _, t := range []*srcTrack{video, audio} {
		if t != nil && len(t.samples) > 0 {
			tracks = append(tracks, t)
		}
	}
	if len(tracks) == 0 {
		return nil, ErrNoSequence
	}
	// Video composition offsets are shifted so that the first frame (a
	// keyframe) is presented at 0 (B-frames get negative offsets, ctts
	// version 1): an edit list starting at 0 then shows every frame. Each
	// track starts at its first presentation, offset from the earliest.
	shift := int32(0)
	if video != nil && len(video.samples) > 0 {
		shift = video.samples[0].PTSOffset
	}
	startOf := func(t *srcTrack) time.Duration {
		if t == video {
			return t.samples[0].dts + fromTicks(int64(shift), t.timeScale)
		}
		return t.samples[0].dts
	}
	base := startOf(tracks[0])
	for _, t := range tracks {
		base = min(base, startOf(t))
	}
	p := &pmp4.Presentation{}
	var dataSize int64
	stop := func() ([]byte, error) { return nil, errHeaderDone }
	for i, t := range tracks {
		pt := &pmp4.Track{ID: i + 1, TimeScale: t.timeScale, Codec: t.codec,
			TimeOffset: int32(ticks(startOf(t)-base, t.timeScale))}
		pt.Samples = make([]*pmp4.Sample, len(t.samples))
		var total int64
		for j, s := range t.samples {
			off := s.PTSOffset
			if t == video {
				off -= shift
			}
			pt.Samples[j] = &pmp4.Sample{Duration: s.Duration, PTSOffset: off, IsNonSyncSample: !s.Sync,
				PayloadSize: s.Size, GetPayload: stop}
			dataSize += int64(s.Size)
			total += int64(s.Duration)
		}
		if d := fromTicks(total+int64(pt.TimeOffset), t.timeScale); d > m.duration {
			m.duration = d
		}
		if t == video {
			m.frames = len(t.samples)
		}
		p.Tracks = append(p.Tracks, pt)
	}
	if dataSize+8 > 1<<32-1 {
		return nil, ErrTooLarge
	}
	var hdr bytes.Buffer
	if err := p.Marshal(&hdr); !errors.Is(err, errHeaderDone) {
		return nil, fmt.Errorf("mp4 header: %v", err)
	}
	if int64(hdr.Len())+dataSize > 1<<32-1 {
		return nil, ErrTooLarge // 32-bit chunk offsets
	}
	m.header = hdr.Bytes()
	if keepPresentation {
		m.pres = p
		for _, t := range tracks {
			m.src = append(m.src, t.samples)
		}
	}

	// The mdat order of pmp4: repeatedly the track whose elapsed time is
	// the smallest (the first on ties).
	next := make([]int, len(tracks))
	elapsed := make([]int64, len(tracks))
	for i, pt := range p.Tracks {
		elapsed[i] = int64(pt.TimeOffset)
	}
	pos := int64(len(m.header))
	n := 0
	for _, t := range tracks {
		n += len(t.samples)
	}
	m.samples = make([]exportSample, 0, n)
	m.ends = make([]int64, 0, n)
	for {
		best := -1
		var bestT time.Duration
		for i, t := range tracks {
			if next[i] < len(t.samples) {
				e := durationMp4ToGo(elapsed[i], t.timeScale)
				if best < 0 || e < bestT {
					best, bestT = i, e
				}
			}
		}
		if best < 0 {
			break
		}
		s := tracks[best].samples[next[best]]
		next[best]++
		elapsed[best] += int64(s.Duration)
		m.samples = append(m.samples, exportSample{file: s.file, size: s.Size, off: s.Offset})
		pos += int64(s.Size)
		m.ends = append(m.ends, pos)
	}
	m.size = pos
	return m, nil
}

// readInit reads a session's init segment.
func (r *Recorder) readInit(s store.RecordingSession) (*fmp4.Init, error) {
	path, err := r.abs(s.InitPath)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("init segment: %w", err)
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("init segment: %w", err)
	}
	return &in, nil
}

// appendSamples appends the samples of one track of segment seg (file
// index file) to out, with their presentation and decoding on the media
// clock: the segment starts at StartAt with the keyframe presented at
// MediaStart.
func appendSamples(out []srcSample, seg store.RecordingSegment, samples []sampleInfo, timeScale uint32, file int32) []srcSample {
	segStart := ticks(seg.MediaStart, timeScale)
	for _, s := range samples {
		pts := s.DTS + int64(s.PTSOffset)
		out = append(out, srcSample{sampleInfo: s, file: file,
			wall:  seg.StartAt.Add(fromTicks(pts-segStart, timeScale)),
			dwall: seg.StartAt.Add(fromTicks(s.DTS-segStart, timeScale)), dts: fromTicks(s.DTS, timeScale)})
	}
	return out
}

// videoEnd is where video samples (in decode order) from start end for a
// clip ending at to: the tightest cut in decode order that keeps every
// frame presented before to decodable, the frames after the cut all being
// presented at or after to. (With B-frames, one reference frame presented
// after to may stay, as frames before to need it.) At least the sample at
// start stays. The MP4 export and the HLS sequence's last segment cut
// their video here.
func videoEnd(samples []srcSample, start int, to time.Time) int {
	end := len(samples)
	for i := start + 1; i < len(samples); i++ {
		if samples[i].dwall.After(to.Add(time.Second)) {
			end = i // beyond any reordering
			break
		}
	}
	for end > start+1 && !samples[end-1].wall.Before(to) {
		end--
	}
	return end
}

// presentedWithin returns the samples presented from from (zero: from the
// first) to before to, on the media clock: the audio of a clip.
func presentedWithin(samples []srcSample, from, to time.Time) []srcSample {
	var kept []srcSample
	for _, s := range samples {
		if !s.wall.Before(from) && s.wall.Before(to) {
			kept = append(kept, s)
		}
	}
	return kept
}

// durationMp4ToGo is pmp4's conversion, repeated so that the order of
// samples matches its own exactly.
func durationMp4ToGo(v int64, timeScale uint32) time.Duration {
	ts := int64(timeScale)
	secs := v / ts
	dec := v % ts
	return time.Duration(secs)*time.Second + time.Duration(dec)*time.Second/time.Duration(ts)
}

// sameTracks checks that a session's init segment has the tracks of byID.
func (r *Recorder) sameTracks(s store.RecordingSession, byID map[int]*srcTrack) error {
	in, err := r.readInit(s)
	if err != nil {
		return err
	}
	if len(in.Tracks) != len(byID) {
		return fmt.Errorf("%d tracks instead of %d", len(in.Tracks), len(byID))
	}
	for _, t := range in.Tracks {
		o := byID[t.ID]
		if o == nil || o.timeScale != t.TimeScale || o.codec.IsVideo() != t.Codec.IsVideo() {
			return fmt.Errorf("track %d differs", t.ID)
		}
		if _, ok := t.Codec.(*mp4.CodecMPEG4Audio); ok {
			if _, same := o.codec.(*mp4.CodecMPEG4Audio); !same {
				return fmt.Errorf("track %d: another audio codec", t.ID)
			}
		}
	}
	return nil
}

// reader returns a ReadSeeker over the exported file.
func (m *mp4File) reader() *mp4Reader { return &mp4Reader{m: m, cur: -1} }

// mp4Reader reads an mp4File: the header from memory, samples from their
// segment files (one open at a time).
type mp4Reader struct {
	m   *mp4File
	pos int64
	cur int32
	f   *os.File
}

func (r *mp4Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.m.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *mp4Reader) Read(p []byte) (int, error) {
	if r.pos >= r.m.size {
		return 0, io.EOF
	}
	if h := int64(len(r.m.header)); r.pos < h {
		n := copy(p, r.m.header[r.pos:])
		r.pos += int64(n)
		return n, nil
	}
	i := sort.Search(len(r.m.ends), func(i int) bool { return r.m.ends[i] > r.pos })
	s := r.m.samples[i]
	start := r.m.ends[i] - int64(s.size)
	into := r.pos - start
	n := min(int64(len(p)), int64(s.size)-into)
	if s.file != r.cur {
		if r.f != nil {
			r.f.Close()
		}
		f, err := os.Open(r.m.files[s.file])
		if err != nil {
			r.f, r.cur = nil, -1
			return 0, err
		}
		r.f, r.cur = f, s.file
	}
	got, err := r.f.ReadAt(p[:n], s.off+into)
	r.pos += int64(got)
	if err == io.EOF && int64(got) == n {
		err = nil
	}
	if err == nil && int64(got) < n {
		err = io.ErrUnexpectedEOF
	}
	return got, err
}

// Close releases the open segment file.
func (r *mp4Reader) Close() error {
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}
