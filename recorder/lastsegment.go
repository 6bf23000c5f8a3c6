package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"vitrine/store"
)

// A product sequence as HLS ends at its unpin, as its MP4 download does:
// the segment holding the unpin is served cut there
// (sequences/{seq}/last.m4s), rewritten from the segment's sample tables
// with the cut of the MP4 export (videoEnd for the video, presentedWithin
// for the audio). Each track keeps its base decode time, so the cut
// segment follows the sequence's earlier segments on the init segment's
// timeline.

// segmentCut is a segment cut at an unpin: the samples kept of each track.
type segmentCut struct {
	seqNo  uint32 // of the segment's first fragment
	tracks []cutTrack
	// duration is the reference track's (the video, else the audio) kept
	// samples': the playlist's EXTINF.
	duration time.Duration
}

type cutTrack struct {
	id      int
	samples []sampleInfo
}

// cutSegment cuts segment seg, read through f, at media time to; nil when
// nothing is cut: the segment ends at or before to, or every sample of it
// is presented before to.
func cutSegment(f io.ReaderAt, seg store.RecordingSegment, in *fmp4.Init, to time.Time) (*segmentCut, error) {
	if !to.Before(seg.StartAt.Add(seg.Duration)) {
		return nil, nil
	}
	ts, err := parseFragments(f, seg.Size)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", seg.Seq, err)
	}
	var ref *fmp4.InitTrack
	for _, t := range in.Tracks {
		if t.Codec.IsVideo() {
			ref = t
			break
		}
	}
	if ref == nil && len(in.Tracks) > 0 {
		ref = in.Tracks[0]
	}
	c := &segmentCut{}
	cut := false
	for _, t := range in.Tracks {
		src := appendSamples(nil, seg, ts[t.ID], t.TimeScale, 0)
		if len(src) == 0 {
			continue
		}
		var kept []srcSample
		if t.Codec.IsVideo() {
			kept = src[:videoEnd(src, 0, to)]
		} else {
			kept = presentedWithin(src, time.Time{}, to)
		}
		if len(kept) < len(src) {
			cut = true
		}
		if len(kept) == 0 {
			continue
		}
		ct := cutTrack{id: t.ID, samples: make([]sampleInfo, len(kept))}
		var total int64
		for i, s := range kept {
			ct.samples[i] = s.sampleInfo
			total += int64(s.Duration)
		}
		if t == ref {
			c.duration = fromTicks(total, t.TimeScale)
		}
		c.tracks = append(c.tracks, ct)
	}
	if !cut {
		return nil, nil
	}
	if len(c.tracks) == 0 {
		return nil, ErrNoSequence
	}
	if c.duration <= 0 {
		c.duration = to.Sub(seg.StartAt)
	}
	c.seqNo = firstSequenceNumber(f, seg.Size)
	return c, nil
}

// firstSequenceNumber reads the mfhd sequence number of a segment's first
// fragment (0 if the file does not start with one).
func firstSequenceNumber(f io.ReaderAt, size int64) uint32 {
	var b [24]byte
	if size < int64(len(b)) {
		return 0
	}
	if _, err := f.ReadAt(b[:], 0); err != nil || string(b[4:8]) != "moof" || string(b[12:16]) != "mfhd" {
		return 0
	}
	return binary.BigEndian.Uint32(b[20:24])
}

// marshal writes the cut segment as one fragment (moof+mdat) with the
// samples' bytes read from f. The recorder's fragments follow each other
// without gaps in decode time, so one fragment per track from its first
// kept sample's decode time has every sample at its original time.
func (c *segmentCut) marshal(f io.ReaderAt) ([]byte, error) {
	var size int64
	for _, t := range c.tracks {
		for _, s := range t.samples {
			size += int64(s.Size)
		}
	}
	if size > 1<<30 {
		return nil, fmt.Errorf("cut segment of %d bytes", size)
	}
	data := make([]byte, size)
	part := fmp4.Part{SequenceNumber: c.seqNo}
	pos := int64(0)
	for _, t := range c.tracks {
		pt := &fmp4.PartTrack{ID: t.id, BaseTime: uint64(t.samples[0].DTS), Samples: make([]*fmp4.Sample, len(t.samples))}
		for i, s := range t.samples {
			b := data[pos : pos+int64(s.Size)]
			pos += int64(s.Size)
			if _, err := f.ReadAt(b, s.Offset); err != nil {
				return nil, err
			}
			pt.Samples[i] = &fmp4.Sample{Duration: s.Duration, PTSOffset: s.PTSOffset, IsNonSyncSample: !s.Sync, Payload: b}
		}
		part.Tracks = append(part.Tracks, pt)
	}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("cut segment: %w", err)
	}
	return buf.Bytes(), nil
}

// lastSegment is a sequence's last segment cut at its unpin.
type lastSegment struct {
	duration time.Duration
	modTime  time.Time
	data     []byte // with withData
}

// cutLast cuts the last segment of a sequence's clip at its unpin, with
// its bytes if withData; nil when the segment is served whole: a sequence
// still pinned while the live is recorded (its end moves), or an unpin at
// the segment's end. Once the live has ended, a sequence still pinned then
// ends at the end of the live, as its MP4 does.
func (r *Recorder) cutLast(rc *recording, seq *Sequence, clip []store.RecordingSegment, withData bool) (*lastSegment, error) {
	if (seq.Open && rc.live()) || len(clip) == 0 {
		return nil, nil
	}
	seg := clip[len(clip)-1]
	if !seq.to.Before(seg.StartAt.Add(seg.Duration)) {
		return nil, nil
	}
	in, err := r.readInit(rc.sessions[seg.Session])
	if err != nil {
		return nil, notFoundIsGone(err)
	}
	path, err := r.abs(seg.Path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, notFoundIsGone(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < seg.Size {
		return nil, fmt.Errorf("segment %d: %d bytes on disk, %d indexed", seg.Seq, fi.Size(), seg.Size)
	}
	c, err := cutSegment(f, seg, in, seq.to)
	if c == nil || err != nil {
		return nil, err
	}
	last := &lastSegment{duration: c.duration, modTime: fi.ModTime()}
	if withData {
		if last.data, err = c.marshal(f); err != nil {
			return nil, err
		}
	}
	return last, nil
}

// notFoundIsGone: files deleted under a request (retention, reset) mean
// the recording is gone, not a server error.
func notFoundIsGone(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoRecording
	}
	return err
}
