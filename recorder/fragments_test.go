package recorder

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

func samplePart(t testing.TB) []byte {
	part := fmp4.Part{SequenceNumber: 3, Tracks: []*fmp4.PartTrack{
		{ID: 1, BaseTime: 90000, Samples: []*fmp4.Sample{
			{Duration: 3000, PTSOffset: 6000, Payload: []byte{1, 2, 3}},
			{Duration: 3000, PTSOffset: -3000, IsNonSyncSample: true, Payload: []byte{4, 5}},
		}},
		{ID: 2, BaseTime: 48000, Samples: []*fmp4.Sample{{Duration: 1024, Payload: []byte{9}}}},
	}}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseFragments(t *testing.T) {
	one := samplePart(t)
	b := append(append([]byte{}, one...), one...)
	ts, err := parseFragments(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	v := ts[1]
	if len(v) != 4 || v[0].DTS != 90000 || v[1].DTS != 93000 || !v[0].Sync || v[1].Sync ||
		v[0].PTSOffset != 6000 || v[1].PTSOffset != -3000 || v[0].Size != 3 {
		t.Fatalf("video samples: %+v", v)
	}
	if got := b[v[1].Offset : v[1].Offset+int64(v[1].Size)]; !bytes.Equal(got, []byte{4, 5}) {
		t.Fatalf("sample data at its offset: %v", got)
	}
	if a := ts[2]; len(a) != 2 || b[a[1].Offset] != 9 || a[1].Offset < int64(len(one)) {
		t.Fatalf("audio samples: %+v", a)
	}
	// A file cut in the middle of a fragment is an error, not a panic.
	for n := 1; n < len(b); n += 7 {
		if n == len(one) {
			continue
		}
		if _, err := parseFragments(bytes.NewReader(b[:n]), int64(n)); err == nil {
			t.Fatalf("cut at %d of %d: no error", n, len(b))
		}
	}
}

// FuzzParseFragments: whatever a damaged file holds, parsing ends with
// samples inside the file or an error.
func FuzzParseFragments(f *testing.F) {
	f.Add(samplePart(f))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'f', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := parseFragments(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, samples := range ts {
			for _, s := range samples {
				if s.Offset < 0 || s.Offset+int64(s.Size) > int64(len(b)) {
					t.Fatalf("sample outside the file: %+v", s)
				}
			}
		}
	})
}
