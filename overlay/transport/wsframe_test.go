package transport

import (
	"bytes"
	"errors"
	"testing"
	"vitrine/events"
)

func TestParseFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 1000, 0xFFFF, 0x10000} {
		payload := bytes.Repeat([]byte("v"), n)
		b := clientFrame(true, opText, payload, false)
		// Every prefix is incomplete, the whole frame parses.
		for _, cut := range []int{0, 1, 2, len(b) / 2, len(b) - 1} {
			if _, _, err := parseFrame(b[:cut], 1<<20); !errors.Is(err, errNeedMore) {
				t.Fatalf("%d bytes cut at %d: %v, want errNeedMore", n, cut, err)
			}
		}
		f, used, err := parseFrame(append(b, 0x81), 1<<20)
		if err != nil || used != len(b) || !bytes.Equal(f.payload, payload) || !f.fin || f.opcode != opText {
			t.Fatalf("%d bytes: used %d of %d, %v", n, used, len(b), err)
		}
		// The server's frames use the same length encoding.
		if got := appendFrame(nil, opText, payload); len(got) != len(b)-4 {
			t.Fatalf("server frame of %d bytes is %d long, want %d", n, len(got), len(b)-4)
		}
	}
}

func TestCloseFrameReasonFits(t *testing.T) {
	f := closeFrame(closePolicyViolation, string(bytes.Repeat([]byte("é"), 100)))
	if len(f) > 2+maxControlPayload || f[0] != 0x88 {
		t.Fatalf("close frame of %d bytes", len(f))
	}
	if p := f[4:]; !bytes.Equal(p, bytes.Repeat([]byte("é"), len(p)/2)) {
		t.Fatalf("reason cut inside a rune: %q", p)
	}
}

// FuzzParseFrame: any bytes from a viewer give a frame within them, a
// need for more, or a protocol error; never a panic or an overread; and a
// masked frame made of the input parses back to it.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x80, 1, 2, 3, 4})
	f.Add(clientFrame(false, opText, []byte(`{"type":"li`), false))
	f.Add(clientFrame(true, opContinuation, []byte(`ke"}`), false))
	f.Add(clientFrame(true, opClose, []byte{3, 232}, false))
	f.Add([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		m := messageReader{max: events.MaxInboundBytes}
		for len(in) > 0 {
			fr, n, err := parseFrame(in, events.MaxInboundBytes)
			if err != nil {
				var fe *frameError
				if !errors.Is(err, errNeedMore) && !errors.As(err, &fe) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if n <= 0 || n > len(in) || len(fr.payload) > events.MaxInboundBytes {
				t.Fatalf("frame of %d bytes used %d of %d", len(fr.payload), n, len(in))
			}
			if _, _, err := m.next(fr); err != nil {
				break
			}
			if len(m.fragment) > events.MaxInboundBytes {
				t.Fatalf("fragments grew to %d bytes", len(m.fragment))
			}
			in = in[n:]
		}
		if len(b) > events.MaxInboundBytes {
			return
		}
		fr, n, err := parseFrame(clientFrame(true, opText, b, false), events.MaxInboundBytes)
		if err != nil || !bytes.Equal(fr.payload, b) || n != len(clientFrame(true, opText, b, false)) {
			t.Fatalf("round trip of %d bytes: %v", len(b), err)
		}
	})
}
