package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"vitrine/store"
)

// sessionWriter is the sink of one publisher session: it writes segment
// files under the session's directory and records each fragment in the
// index once it is on disk.
//
// Durability: a fragment is appended to its segment file and the file is
// synced (the directory too when the file is new) before the index row is
// written with the new size. After a crash the index therefore never
// counts bytes that are not on disk; bytes beyond it (a fragment written
// but not indexed) are cut off when the recorder starts again.
type sessionWriter struct {
	r        *Recorder
	ctx      context.Context
	campaign string
	session  int
	rel      string // session directory, relative to the recordings dir
	nextSeq  int64
	stats    *streamStats

	cur     *store.RecordingSegment
	f       *os.File
	newFile bool
}

func (w *sessionWriter) beginSegment(s segmentStart) error {
	if w.cur != nil {
		return fmt.Errorf("segment %d still open", w.cur.Seq)
	}
	seq := w.nextSeq
	w.nextSeq++
	rel := filepath.Join(w.rel, fmt.Sprintf("%06d.m4s", seq))
	f, err := w.r.fs.create(filepath.Join(w.r.dir, rel))
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	w.f, w.newFile = f, true
	w.cur = &store.RecordingSegment{CampaignID: w.campaign, Seq: seq, Session: w.session, Path: rel,
		StartAt: s.StartAt, MediaStart: s.MediaStart, Discontinuity: s.Discontinuity}
	return nil
}

func (w *sessionWriter) writeFragment(data []byte, dur time.Duration, end bool) error {
	seg := w.cur
	if seg == nil {
		return fmt.Errorf("fragment without a segment")
	}
	if len(data) > 0 {
		start := time.Now()
		if err := w.r.fs.write(w.f, data); err != nil {
			// Cut what may have been written: the file must end where
			// the index says.
			_ = w.f.Truncate(seg.Size)
			return fmt.Errorf("write %s: %w", seg.Path, err)
		}
		if err := w.r.fs.sync(w.f); err != nil {
			_ = w.f.Truncate(seg.Size)
			return fmt.Errorf("sync %s: %w", seg.Path, err)
		}
		if w.newFile {
			if err := syncDir(filepath.Dir(w.f.Name())); err != nil {
				return fmt.Errorf("sync directory of %s: %w", seg.Path, err)
			}
			w.newFile = false
		}
		w.r.metrics.syncSeconds.Observe(time.Since(start).Seconds())
		seg.Size += int64(len(data))
		seg.Duration += dur
		w.stats.bytes.Add(uint64(len(data)))
		w.r.metrics.bytes.Add(uint64(len(data)))
	}
	seg.Complete = end
	if seg.Size > 0 {
		if err := w.r.st.SaveRecordingSegment(context.WithoutCancel(w.ctx), seg); err != nil {
			return fmt.Errorf("index %s: %w", seg.Path, err)
		}
	}
	if end {
		w.closeFile()
		if seg.Size > 0 {
			w.stats.segments.Add(1)
			w.r.metrics.segments.Add(1)
		}
		w.cur = nil
	}
	return nil
}

// abort closes the open segment file after a failure, keeping what the
// index counts.
func (w *sessionWriter) abort() {
	if w.cur != nil && w.f != nil {
		_ = w.f.Truncate(w.cur.Size)
	}
	w.closeFile()
	w.cur = nil
}

func (w *sessionWriter) closeFile() {
	if w.f == nil {
		return
	}
	name, empty := w.f.Name(), w.cur != nil && w.cur.Size == 0
	_ = w.f.Close()
	w.f = nil
	if empty {
		_ = os.Remove(name) // no fragment made it: nothing indexes it
	}
}

// syncDir makes a directory's entries (a new file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeFileSync writes a whole file durably: the data, then its directory
// entry.
func (r *Recorder) writeFileSync(path string, data []byte) error {
	f, err := r.fs.create(path)
	if err != nil {
		return err
	}
	if err := r.fs.write(f, data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := r.fs.sync(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// mkdirSync creates dir and its missing parents, syncing each parent so
// that the new entries survive a crash.
func mkdirSync(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// fileSystem is the recorder's writes, replaceable in tests to simulate a
// full disk or a failing device.
type fileSystem struct {
	create func(path string) (*os.File, error)
	write  func(f *os.File, b []byte) error
	sync   func(f *os.File) error
}

var osFS = fileSystem{
	create: func(path string) (*os.File, error) {
		return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	},
	write: func(f *os.File, b []byte) error {
		_, err := f.Write(b)
		return err
	},
	sync: func(f *os.File) error { return f.Sync() },
}

// asyncSink hands what the segmenter cuts to a writer goroutine, so that
// a slow disk (a sync taking seconds) delays the writes, not the reading
// of the stream: the hub would make a reader that falls behind skip
// frames. Up to queueFragments fragments (about a second each) wait; past
// that the reader waits too, and only then does the hub drop frames.
type asyncSink struct {
	ch   chan sinkOp
	done chan struct{}
	err  error // set by the writer before done closes
	fail atomic.Bool
}

const queueFragments = 256

type sinkOp struct {
	begin *segmentStart
	data  []byte
	dur   time.Duration
	end   bool
}

func newAsyncSink(out sink) *asyncSink {
	a := &asyncSink{ch: make(chan sinkOp, queueFragments), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for op := range a.ch {
			if a.err != nil {
				continue // drain
			}
			if op.begin != nil {
				a.err = out.beginSegment(*op.begin)
			} else {
				a.err = out.writeFragment(op.data, op.dur, op.end)
			}
			if a.err != nil {
				a.fail.Store(true)
			}
		}
	}()
	return a
}

var errWriterFailed = errors.New("the recording's writer failed")

func (a *asyncSink) beginSegment(s segmentStart) error {
	if a.fail.Load() {
		return errWriterFailed
	}
	a.ch <- sinkOp{begin: &s}
	return nil
}

func (a *asyncSink) writeFragment(data []byte, dur time.Duration, end bool) error {
	if a.fail.Load() {
		return errWriterFailed
	}
	a.ch <- sinkOp{data: data, dur: dur, end: end}
	return nil
}

// close waits for the queued writes and returns the first error.
func (a *asyncSink) close() error {
	close(a.ch)
	<-a.done
	return a.err
}
