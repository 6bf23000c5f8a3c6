package aacopus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// ErrUnavailable: ffmpeg is missing or cannot encode Opus.
var ErrUnavailable = errors.New("AAC to Opus transcoding unavailable")

// Probe checks that ffmpeg runs and has the libopus encoder. Its error
// wraps ErrUnavailable and says what to install.
func Probe(ctx context.Context, ffmpeg string) error {
	if ffmpeg == "" {
		ffmpeg = DefaultFFmpeg
	}
	path, err := exec.LookPath(ffmpeg)
	if err != nil {
		return fmt.Errorf("%w: %s not found (install ffmpeg, e.g. apt-get install ffmpeg)", ErrUnavailable, ffmpeg)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-hide_banner", "-nostdin", "-encoders").Output()
	if err != nil {
		return fmt.Errorf("%w: %s -encoders: %v", ErrUnavailable, path, err)
	}
	if !bytes.Contains(out, []byte(" libopus ")) {
		return fmt.Errorf("%w: %s has no libopus encoder (use a build with --enable-libopus, as Debian's)", ErrUnavailable, path)
	}
	return nil
}
