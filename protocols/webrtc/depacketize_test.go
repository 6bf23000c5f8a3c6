package webrtc

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"vitrine/stream"
)

// synthetic access units: a keyframe larger than many packets, small
// P-frames, one with several slices.
func syntheticAUs() [][][]byte {
	fill := func(typ byte, n int) []byte {
		b := make([]byte, n)
		b[0] = 0x60 | typ
		for i := 1; i < n; i++ {
			b[i] = byte(i*7 + int(typ))
		}
		return b
	}
	return [][][]byte{
		{fill(7, 20), fill(8, 6), fill(5, 9000)},
		{fill(1, 900)},
		{fill(1, 1188)}, // exactly one packet
		{fill(1, 1189)}, // one byte too many: FU-A
		{fill(1, 3000), fill(1, 400), fill(1, 5)},
	}
}

func packetsOf(t *testing.T, aus [][][]byte) []*packet {
	t.Helper()
	ot := newOutTrack(kindVideo)
	var out []*packet
	for i, nalus := range aus {
		out = ot.packetizeH264(&stream.Unit{PTS: time.Duration(i) * time.Second / 30, Key: i == 0, Payload: nalus}, out)
	}
	return out
}

func depacketizeAll(t *testing.T, pkts []*packet, lose map[int]bool, shuffle bool) []accessUnit {
	t.Helper()
	rb := newReorderBuffer(64, 50*time.Millisecond)
	var d h264Depacketizer
	var aus []accessUnit
	order := make([]int, len(pkts))
	for i := range order {
		order[i] = i
	}
	if shuffle {
		// Swap neighbours: reordering within a short window (not the
		// first packet, which sets where the sequence starts).
		for i := 1; i+1 < len(order); i += 3 {
			order[i], order[i+1] = order[i+1], order[i]
		}
	}
	now := time.Now()
	emit := func(in rtpIn) {
		if err := d.push(in, func(a accessUnit) { aus = append(aus, a) }); err != nil {
			t.Errorf("depacketize: %v", err)
		}
	}
	for _, i := range order {
		now = now.Add(10 * time.Millisecond)
		if lose[i] {
			continue
		}
		p := pkts[i]
		rb.push(rtpIn{seq: p.hdr.SequenceNumber, ts: p.hdr.Timestamp, marker: p.hdr.Marker, payload: p.payload}, now, emit)
	}
	rb.flush(emit)
	return aus
}

// Our packetizer and depacketizer agree, in order and reordered.
func TestPacketizeRoundTrip(t *testing.T) {
	aus := syntheticAUs()
	pkts := packetsOf(t, aus)
	for _, shuffle := range []bool{false, true} {
		got := depacketizeAll(t, pkts, nil, shuffle)
		if len(got) != len(aus) {
			t.Fatalf("shuffle=%v: %d access units, want %d", shuffle, len(got), len(aus))
		}
		for i, a := range got {
			if a.broken || !slices.EqualFunc(a.nalus, aus[i], bytes.Equal) {
				t.Errorf("shuffle=%v: access unit %d differs (broken=%v)", shuffle, i, a.broken)
			}
		}
	}
	for _, p := range pkts {
		if n := rtpHeaderSize + len(p.payload); n > rtpMTU {
			t.Errorf("packet of %d bytes", n)
		}
	}
	if !pkts[0].keyStart || pkts[1].keyStart {
		t.Error("keyStart marks the first packet of the keyframe only")
	}
}

// pion's depacketizer, as browsers-like receivers use, reads our packets.
func TestPacketizePionReads(t *testing.T) {
	aus := syntheticAUs()
	var h codecs.H264Packet
	var frame []byte
	var frames [][]byte
	for _, p := range packetsOf(t, aus) {
		b, err := h.Unmarshal(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		frame = append(frame, b...)
		if p.hdr.Marker {
			frames = append(frames, frame)
			frame = nil
		}
	}
	for i, nalus := range aus {
		if !bytes.Equal(frames[i], annexB(nalus)) {
			t.Errorf("frame %d differs", i)
		}
	}
}

// A lost packet breaks its access unit, only.
func TestDepacketizeLoss(t *testing.T) {
	aus := syntheticAUs()
	pkts := packetsOf(t, aus)
	// The keyframe's third packet (inside the FU-A of the IDR).
	got := depacketizeAll(t, pkts, map[int]bool{3: true}, false)
	if len(got) != len(aus) || !got[0].broken || got[1].broken || !slices.EqualFunc(got[1].nalus, aus[1], bytes.Equal) {
		t.Fatalf("got %d units, first broken=%v", len(got), got[0].broken)
	}
	// The marker packet of a unit: the unit ends at the next timestamp and
	// is broken, the next one may have lost its start too.
	last := 0
	for i, p := range pkts {
		if p.hdr.Marker && p.hdr.Timestamp == pkts[0].hdr.Timestamp {
			last = i
		}
	}
	got = depacketizeAll(t, pkts, map[int]bool{last: true}, false)
	if !got[0].broken {
		t.Error("a unit without its last packet is not broken")
	}
}

// STAP-A, as browsers send SPS and PPS.
func TestDepacketizeSTAPA(t *testing.T) {
	sps, pps, idr := []byte{0x67, 1, 2, 3}, []byte{0x68, 4}, []byte{0x65, 9, 9, 9}
	stap := []byte{naluSTAPA | 0x60}
	for _, n := range [][]byte{sps, pps} {
		stap = binary.BigEndian.AppendUint16(stap, uint16(len(n)))
		stap = append(stap, n...)
	}
	var d h264Depacketizer
	var got []accessUnit
	emit := func(a accessUnit) { got = append(got, a) }
	if err := d.push(rtpIn{seq: 1, ts: 10, payload: stap}, emit); err != nil {
		t.Fatal(err)
	}
	if err := d.push(rtpIn{seq: 2, ts: 10, marker: true, payload: idr}, emit); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.EqualFunc(got[0].nalus, [][]byte{sps, pps, idr}, bytes.Equal) {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range [][]byte{{}, {naluSTAPA, 0}, {naluSTAPA, 0, 9, 1}, {naluFUA, 0x45}, {naluFUA, 0x05, 1}, {25, 1, 2}} {
		var d h264Depacketizer
		if err := d.push(rtpIn{seq: 1, ts: 1, marker: true, payload: bad}, func(accessUnit) {}); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
}

func TestWithParameterSets(t *testing.T) {
	aud, sps, pps, sei, idr := []byte{9, 0xf0}, []byte{0x67, 1}, []byte{0x68, 2}, []byte{6, 5}, []byte{0x65, 3}
	for _, c := range []struct{ in, want [][]byte }{
		{[][]byte{idr}, [][]byte{sps, pps, idr}},
		{[][]byte{aud, sei, idr}, [][]byte{aud, sps, pps, sei, idr}},
		{[][]byte{aud, sps, idr}, [][]byte{aud, sps, pps, idr}},
		{[][]byte{pps, idr}, [][]byte{sps, pps, idr}},
		{[][]byte{sps, pps, idr}, [][]byte{sps, pps, idr}},
	} {
		if got := withParameterSets(c.in, sps, pps); !slices.EqualFunc(got, c.want, bytes.Equal) {
			t.Errorf("%x: got %x, want %x", c.in, got, c.want)
		}
	}
}

func TestReorderBuffer(t *testing.T) {
	var got []uint16
	var lost []uint16
	emit := func(p rtpIn) {
		got = append(got, p.seq)
		if p.lost {
			lost = append(lost, p.seq)
		}
	}
	rb := newReorderBuffer(16, 100*time.Millisecond)
	t0 := time.Now()
	for _, s := range []uint16{65534, 65535, 1, 0, 2, 2, 1} { // wrap, swap, duplicates
		rb.push(rtpIn{seq: s}, t0, emit)
	}
	if want := []uint16{65534, 65535, 0, 1, 2}; !slices.Equal(got, want) || len(lost) != 0 {
		t.Fatalf("got %v lost %v, want %v", got, lost, want)
	}
	// 3 never comes: 4 and 5 wait maxDelay, then go with the gap marked.
	got, lost = nil, nil
	rb.push(rtpIn{seq: 4}, t0, emit)
	rb.push(rtpIn{seq: 5}, t0.Add(50*time.Millisecond), emit)
	if len(got) != 0 {
		t.Fatalf("emitted %v before the delay", got)
	}
	rb.push(rtpIn{seq: 6}, t0.Add(120*time.Millisecond), emit)
	if !slices.Equal(got, []uint16{4, 5, 6}) || !slices.Equal(lost, []uint16{4}) {
		t.Fatalf("got %v lost %v", got, lost)
	}
	// 3 arriving now is too late.
	got = nil
	rb.push(rtpIn{seq: 3}, t0.Add(130*time.Millisecond), emit)
	if len(got) != 0 {
		t.Fatalf("late packet emitted: %v", got)
	}
	// A jump far ahead restarts there.
	rb.push(rtpIn{seq: 5000}, t0, emit)
	if !slices.Equal(got, []uint16{5000}) {
		t.Fatalf("got %v", got)
	}
}

func TestHistory(t *testing.T) {
	h := newHistory(8)
	mk := func(seq uint16, key bool) *packet {
		return &packet{kind: kindVideo, keyStart: key, hdr: rtp.Header{SequenceNumber: seq}, payload: []byte{1}}
	}
	for i := range 10 {
		h.add(mk(uint16(65530+i), i == 6))
	}
	// Held: 65532..65535, 0..3 (the last 8).
	if h.get(65531) != nil || h.get(65532) == nil || h.get(3) == nil || h.get(4) != nil {
		t.Error("history bounds")
	}
	if gop := h.gop(nil); len(gop) != 4 || gop[0].hdr.SequenceNumber != 0 {
		t.Errorf("gop = %d packets", len(gop))
	}
	for i := range 8 {
		h.add(mk(uint16(4+i), false))
	}
	if gop := h.gop(nil); gop != nil {
		t.Error("a keyframe interval larger than the history is replayed")
	}
}

// Fuzz the depacketizer with arbitrary payloads, markers, timestamps and
// losses: it must not panic and must bound what it holds.
func FuzzDepacketize(f *testing.F) {
	for _, p := range packetsOf(&testing.T{}, syntheticAUs()) {
		f.Add(p.payload, p.hdr.Marker, uint8(0))
	}
	f.Add([]byte{naluSTAPA, 0, 2, 0x67, 1}, true, uint8(1))
	f.Add([]byte{naluFUA, 0x85, 1, 2, 3}, false, uint8(2))
	f.Fuzz(func(t *testing.T, payload []byte, marker bool, flags uint8) {
		var d h264Depacketizer
		r := rand.New(rand.NewPCG(uint64(len(payload)), uint64(flags)))
		for i := range 20 {
			p := rtpIn{seq: uint16(i), ts: uint32(i / 3), marker: marker && i%4 == 3, payload: payload, lost: flags&1 != 0 && r.IntN(5) == 0}
			_ = d.push(p, func(a accessUnit) {
				if len(a.nalus) > maxNALUs {
					t.Fatalf("%d NAL units", len(a.nalus))
				}
				for _, n := range a.nalus {
					if len(n) == 0 {
						t.Fatal("empty NAL unit")
					}
				}
			})
		}
	})
}

// Units carry the sender reports' capture time only when the publisher's
// clock agrees with ours.
func TestIngestClockCheck(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name   string
		srNTP  time.Time
		fromSR bool
	}{
		{"same clock, 40 ms of encoding and network", now.Add(-40 * time.Millisecond), true},
		{"publisher 10 s ahead", now.Add(10 * time.Second), false},
		{"publisher 1 min behind", now.Add(-time.Minute), false},
	} {
		in := &ingest{}
		in.tracks[kindVideo] = trackIn{clock: 90000, started: true, haveSR: true, srNTP: c.srNTP, srRTP: 9000}
		in.pending = []pendingUnit{{kind: kindVideo, ext: 9000, at: now}, {kind: kindVideo, ext: 12000, at: now.Add(40 * time.Millisecond)}}
		basis := in.checkClock()
		if in.ntpFromSR != c.fromSR {
			t.Errorf("%s: NTP from sender reports = %v (%s)", c.name, in.ntpFromSR, basis)
		}
	}
	in := &ingest{}
	in.tracks[kindVideo] = trackIn{clock: 90000, started: true}
	in.pending = []pendingUnit{{kind: kindVideo, at: now}}
	if in.checkClock(); in.ntpFromSR {
		t.Error("NTP from sender reports without any")
	}
}

func TestNTPTime(t *testing.T) {
	// 2024-01-01T00:00:00.5Z in NTP: seconds since 1900, half a second.
	secs := uint64(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + 2208988800)
	got := ntpTime(secs<<32 | 1<<31)
	if want := time.Date(2024, 1, 1, 0, 0, 0, 5e8, time.UTC); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if d := ticks(-90000*3-45000, 90000); d != -3500*time.Millisecond {
		t.Errorf("ticks = %v", d)
	}
}

// B slices are told from I and P slices by the slice header, with
// emulation prevention bytes in the way or not.
func TestIsBFrame(t *testing.T) {
	// first_mb_in_slice = 0 ("1"), slice_type ue(v): P=0 "1", B=1 "010",
	// I=2 "011", B=6 "00111".
	for _, c := range []struct {
		nalus [][]byte
		want  bool
	}{
		{[][]byte{{0x41, 0b1_1_000000}}, false},   // P
		{[][]byte{{0x01, 0b1_010_0000}}, true},    // B (non-reference)
		{[][]byte{{0x21, 0b1_00111_00}}, true},    // B, type 6
		{[][]byte{{0x41, 0b1_011_0000}}, false},   // I in a non-IDR
		{[][]byte{{0x06, 5}, {0x01, 0xa0}}, true}, // SEI first
		{[][]byte{{0x65, 0x88}}, false},           // IDR
		{[][]byte{{0x67, 1}, {0x68, 2}}, false},   // no slice
		{[][]byte{{0x01}}, false},                 // truncated
		{[][]byte{{0x01, 0, 0, 3, 0, 0}}, false},  // garbage header
		{[][]byte{{0x01, 0x00, 0x00, 0x03, 0x01}}, false},
	} {
		if got := isBFrame(c.nalus); got != c.want {
			t.Errorf("%x: %v, want %v", c.nalus, got, c.want)
		}
	}
}

func FuzzIsBFrame(f *testing.F) {
	f.Add([]byte{0x01, 0x50})
	f.Add([]byte{0x41, 0, 0, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 {
			isBFrame([][]byte{b})
		}
	})
}
