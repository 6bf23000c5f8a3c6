package wsproto

import (
	"bytes"
	"errors"
	"testing"
)

var testMask = [4]byte{0x12, 0x34, 0x56, 0x78}

func TestParseFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 1000, 0xFFFF, 0x10000} {
		payload := bytes.Repeat([]byte("v"), n)
		b := AppendMaskedFrame(nil, OpText, payload, testMask)
		// Every prefix is incomplete, the whole frame parses.
		for _, cut := range []int{0, 1, 2, len(b) / 2, len(b) - 1} {
			if _, _, err := ParseFrame(append([]byte(nil), b[:cut]...), FromClient, 1<<20); !errors.Is(err, ErrNeedMore) {
				t.Fatalf("%d bytes cut at %d: %v, want ErrNeedMore", n, cut, err)
			}
		}
		f, used, err := ParseFrame(append(append([]byte(nil), b...), 0x81), FromClient, 1<<20)
		if err != nil || used != len(b) || !bytes.Equal(f.Payload, payload) || !f.Fin || f.Opcode != OpText {
			t.Fatalf("%d bytes: used %d of %d, %v", n, used, len(b), err)
		}
		// The server's frames use the same length encoding, unmasked;
		// a client reads them back.
		s := AppendFrame(nil, OpText, payload)
		if len(s) != len(b)-4 {
			t.Fatalf("server frame of %d bytes is %d long, want %d", n, len(s), len(b)-4)
		}
		if f, used, err := ParseFrame(s, FromServer, 1<<20); err != nil || used != len(s) || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("server frame of %d bytes read back: %v", n, err)
		}
	}
}

func TestParseFrameRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		from Side
		code uint16
	}{
		{"unmasked from a client", AppendFrame(nil, OpText, []byte("x")), FromClient, CloseProtocolError},
		{"masked from a server", AppendMaskedFrame(nil, OpText, []byte("x"), testMask), FromServer, CloseProtocolError},
		{"reserved bits", append([]byte{0xC1}, AppendMaskedFrame(nil, OpText, []byte("x"), testMask)[1:]...), FromClient, CloseProtocolError},
		{"unknown opcode", AppendMaskedFrame(nil, 0x3, nil, testMask), FromClient, CloseProtocolError},
		{"fragmented ping", append([]byte{0x09}, AppendMaskedFrame(nil, OpPing, nil, testMask)[1:]...), FromClient, CloseProtocolError},
		{"long ping", AppendMaskedFrame(nil, OpPing, bytes.Repeat([]byte("p"), 126), testMask), FromClient, CloseProtocolError},
		{"too big", AppendMaskedFrame(nil, OpText, bytes.Repeat([]byte("a"), 101), testMask), FromClient, CloseTooBig},
	} {
		_, _, err := ParseFrame(tc.b, tc.from, 100)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: %v, want code %d", tc.name, err, tc.code)
		}
	}
}

func TestParseClose(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		reply   uint16
	}{
		{nil, CloseNormal},
		{ClosePayload(1000, "bye"), 1000},
		{ClosePayload(1001, ""), 1001},
		{ClosePayload(1003, ""), 1003},
		{ClosePayload(1007, ""), 1007},
		{ClosePayload(1011, ""), 1011},
		{ClosePayload(1014, ""), 1014},
		{ClosePayload(3000, ""), 3000},
		{ClosePayload(4999, "app"), 4999},
		{[]byte{0x03}, CloseProtocolError},
		{append(ClosePayload(1000, ""), 0xff), CloseInvalidPayload},
		{ClosePayload(0, ""), CloseProtocolError},
		{ClosePayload(999, ""), CloseProtocolError},
		{ClosePayload(1004, ""), CloseProtocolError},
		{ClosePayload(1005, ""), CloseProtocolError},
		{ClosePayload(1006, ""), CloseProtocolError},
		{ClosePayload(1015, ""), CloseProtocolError},
		{ClosePayload(1016, ""), CloseProtocolError},
		{ClosePayload(2999, ""), CloseProtocolError},
		{ClosePayload(5000, ""), CloseProtocolError},
		{ClosePayload(65535, ""), CloseProtocolError},
	} {
		if got := CloseReply(tc.payload); got != tc.reply {
			t.Errorf("close payload %x: reply %d, want %d", tc.payload, got, tc.reply)
		}
	}
}

func TestCloseFrameReasonFits(t *testing.T) {
	f := CloseFrame(ClosePolicyViolation, string(bytes.Repeat([]byte("é"), 100)))
	if len(f) > 2+MaxControlPayload || f[0] != 0x88 {
		t.Fatalf("close frame of %d bytes", len(f))
	}
	if p := f[4:]; !bytes.Equal(p, bytes.Repeat([]byte("é"), len(p)/2)) {
		t.Fatalf("reason cut inside a rune: %q", p)
	}
}

// FuzzParseFrame: any bytes from a client give a frame within them, a
// need for more, or a protocol error; never a panic or an overread; and a
// masked frame made of the input parses back to it.
func FuzzParseFrame(f *testing.F) {
	const max = 4 << 10
	f.Add([]byte{0x81, 0x80, 1, 2, 3, 4})
	f.Add(append([]byte{0x01}, AppendMaskedFrame(nil, OpText, []byte(`{"type":"li`), testMask)[1:]...))
	f.Add(AppendMaskedFrame(nil, OpContinuation, []byte(`ke"}`), testMask))
	f.Add(AppendMaskedFrame(nil, OpClose, []byte{3, 232}, testMask))
	f.Add([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		m := MessageReader{Max: max}
		for len(in) > 0 {
			fr, n, err := ParseFrame(in, FromClient, max)
			if err != nil {
				var pe *Error
				if !errors.Is(err, ErrNeedMore) && !errors.As(err, &pe) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if n <= 0 || n > len(in) || len(fr.Payload) > max {
				t.Fatalf("frame of %d bytes used %d of %d", len(fr.Payload), n, len(in))
			}
			_, ctl, err := m.Next(fr)
			if err != nil {
				break
			}
			if ctl != nil && ctl.Opcode == OpClose {
				_ = CloseReply(ctl.Payload)
			}
			if m.Pending() > max {
				t.Fatalf("fragments grew to %d bytes", m.Pending())
			}
			in = in[n:]
		}
		if len(b) > max {
			return
		}
		frame := AppendMaskedFrame(nil, OpText, b, testMask)
		fr, n, err := ParseFrame(frame, FromClient, max)
		if err != nil || !bytes.Equal(fr.Payload, b) || n != len(AppendMaskedFrame(nil, OpText, b, testMask)) {
			t.Fatalf("round trip of %d bytes: %v", len(b), err)
		}
	})
}
