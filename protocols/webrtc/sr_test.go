package webrtc

import (
	"testing"
	"time"
)

func TestNTPRoundTrip(t *testing.T) {
	for _, at := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 4, 21, 30, 0, 123456789, time.UTC)} {
		if got := ntpTime(ntpFromTime(at)); got.Sub(at).Abs() > time.Microsecond {
			t.Errorf("%v came back as %v", at, got)
		}
	}
}

// TestSenderReportMapsCaptureTime: the report's RTP time is that of a
// sample captured at the report's NTP time, whenever the last packet was
// sent.
func TestSenderReportMapsCaptureTime(t *testing.T) {
	var s srState
	captured := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)
	s.sent(&packet{ntp: captured.UnixNano(), payload: make([]byte, 100)})
	s.rtp = 1000
	sr := s.report(7, 48000, captured.Add(500*time.Millisecond))
	if sr.RTPTime != 1000+24000 || sr.PacketCount != 1 || sr.OctetCount != 100 || sr.SSRC != 7 {
		t.Fatalf("%+v", sr)
	}
	if got := ntpTime(sr.NTPTime); got.Sub(captured.Add(500*time.Millisecond)).Abs() > time.Microsecond {
		t.Fatalf("NTP %v", got)
	}
}
