// Package testenv holds helpers shared by tests that drive real peers
// (ffmpeg) against Vitrine.
//
// It imports no package of the project.
package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// RequireFFmpeg skips the test when ffmpeg is not installed; CI installs it,
// so there a missing ffmpeg fails in .ci/run before any test.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
	}
}

// Source describes the synthetic show an encoder pushes.
type Source struct {
	Seconds float64
	Width   int
	Height  int
	FPS     int
	GOP     int  // frames between keyframes
	BFrames int  // consecutive B-frames, as OBS uses by default
	NoAudio bool // video only
	Opus    bool // Opus audio instead of AAC (RTSP, WebRTC; not FLV)
}

// DefaultSource is 640x360 at 30 fps, a keyframe every second, 2 B-frames,
// AAC 48 kHz stereo.
func DefaultSource(seconds float64) Source {
	return Source{Seconds: seconds, Width: 640, Height: 360, FPS: 30, GOP: 30, BFrames: 2}
}

// Args returns ffmpeg arguments that encode src in real time (-re) with
// libx264 and AAC (or Opus), without the output part. The ultrafast preset
// keeps several encoders real-time on a 2-core CI machine; B-frames are
// enabled explicitly since they are what publishers like OBS send.
func (src Source) Args() []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", src.Width, src.Height, src.FPS)}
	if !src.NoAudio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", strconv.FormatFloat(src.Seconds, 'f', -1, 64),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-bf", strconv.Itoa(src.BFrames), "-g", strconv.Itoa(src.GOP),
		"-keyint_min", strconv.Itoa(src.GOP), "-sc_threshold", "0")
	switch {
	case src.NoAudio:
	case src.Opus:
		args = append(args, "-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-ac", "2")
	default:
		args = append(args, "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2")
	}
	return args
}

// Process is a running ffmpeg.
type Process struct {
	cmd    *exec.Cmd
	stderr *LogBuffer
	done   chan struct{}
	err    error
	once   sync.Once
}

// Start runs ffmpeg with args; it is killed when the test ends.
func Start(t testing.TB, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	p := &Process{cmd: cmd, stderr: &LogBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start ffmpeg: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// Push starts ffmpeg encoding src to an FLV/RTMP url.
func Push(t testing.TB, src Source, url string) *Process {
	return Start(t, append(src.Args(), "-f", "flv", url)...)
}

// Wait waits for ffmpeg to exit, at most d; it returns ffmpeg's error and
// stderr.
func (p *Process) Wait(d time.Duration) (error, string) {
	select {
	case <-p.done:
	case <-time.After(d):
		p.Stop()
		<-p.done
		return fmt.Errorf("ffmpeg still running after %v", d), p.Stderr()
	}
	return p.err, p.Stderr()
}

// Stop interrupts ffmpeg, as a user pressing q or closing OBS would.
func (p *Process) Stop() {
	p.once.Do(func() { _ = p.cmd.Process.Kill() })
}

// Stderr returns what ffmpeg printed so far.
func (p *Process) Stderr() string { return p.stderr.String() }
