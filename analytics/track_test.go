package analytics

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

func TestValidateBatch(t *testing.T) {
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	req := Request{CampaignID: "cmp_1", Now: now, UserAgent: chromeUA}
	tests := []struct {
		name   string
		body   string
		fields []string // invalid fields; none: valid
	}{
		{"valid", `{"viewer_id":"v1","session_id":"s1","referrer":"https://www.google.com/search","events":[
			{"id":"e0000001","type":"page.view"},
			{"id":"e0000002","type":"product.click","product_id":"prd_1","at":"2026-11-22T10:59:00Z"},
			{"id":"e0000003","type":"purchase","amount":"12.50","currency":"EUR","product_ids":["prd_1"],"order_id":"A-1"},
			{"id":"e0000004","type":"alert.subscribe","channel":"sms","phone":"+33600000001","opt_in":true}]}`, nil},
		{"no events", `{"viewer_id":"v1","events":[]}`, []string{"events"}},
		{"bad viewer", `{"viewer_id":"v 1","events":[{"id":"e0000001","type":"page.view"}]}`, []string{"viewer_id"}},
		{"short id", `{"viewer_id":"v1","events":[{"id":"e1","type":"page.view"}]}`, []string{"events[0].id"}},
		{"repeated id", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"page.view"},{"id":"e0000001","type":"like"}]}`, []string{"events[1].id"}},
		{"unknown type", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"hls.start"}]}`, []string{"events[0].type"}},
		{"missing product", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"product.click"}]}`, []string{"events[0].product_id"}},
		{"foreign field", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"page.view","amount":"1.00"}]}`, []string{"events[0].amount"}},
		{"bad amount", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"cart.create","amount":"1,00","currency":"eur"}]}`, []string{"events[0].amount", "events[0].currency"}},
		{"old event", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"like","at":"2026-11-22T09:00:00Z"}]}`, []string{"events[0].at"}},
		{"skewed clock corrected", `{"viewer_id":"v1","sent_at":"2026-11-22T08:00:00Z","events":[{"id":"e0000001","type":"like","at":"2026-11-22T07:59:00Z"}]}`, nil},
		{"bad widget", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"widget.view","widget":"banner"}]}`, []string{"events[0].widget"}},
		{"bad email", `{"viewer_id":"v1","events":[{"id":"e0000001","type":"alert.subscribe","channel":"calendar","email":"Bob <b@x.y>"}]}`, []string{"events[0].email"}},
		{"control characters", `{"viewer_id":"v1","referrer":"a\u0001b","events":[{"id":"e0000001","type":"like"}]}`, []string{"referrer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeBatch([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			evs, err := b.Validate(req)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(evs) != len(b.Events) {
					t.Fatalf("%d events of %d", len(evs), len(b.Events))
				}
				return
			}
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("error %v, want a BatchError", err)
			}
			var got []string
			for _, f := range be.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
		})
	}
	b, _ := DecodeBatch([]byte(tests[0].body))
	evs, _ := b.Validate(req)
	if evs[0].Device != Desktop || evs[0].Source != "google.com" || evs[0].At != now || evs[1].At != now.Add(-time.Minute) ||
		evs[2].AmountE4 != 125000 || evs[3].Target != ChannelSMS || !strings.Contains(evs[3].Data, "+33600000001") {
		t.Fatalf("events: %+v", evs)
	}
	// A bot's batch is not counted.
	if evs, err := b.Validate(Request{CampaignID: "c", Now: now, UserAgent: "Googlebot/2.1 (+http://www.google.com/bot.html)"}); err != nil || len(evs) != 0 {
		t.Fatalf("bot: %d events, %v", len(evs), err)
	}
}

func TestDecodeBatchRefuses(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"viewer_id":"v1","events":[]} {}`, `{"viewer_id":"v1","extra":1}`, "\xff",
		`{"viewer_id":1}`, strings.Repeat(" ", MaxBatchBytes+1)} {
		if _, err := DecodeBatch([]byte(body)); err == nil {
			t.Errorf("%.40q: accepted", body)
		}
	}
}

func TestSourceAndDevice(t *testing.T) {
	for _, tc := range []struct{ ref, page, utm, want string }{
		{"", "", "", Direct},
		{"https://www.instagram.com/p/x", "https://shop.example/live", "", "instagram.com"},
		{"https://shop.example/other", "https://shop.example/live", "", Direct},
		{"https://google.com", "https://shop.example/live?utm_source=Newsletter", "", "newsletter"},
		{"", "", "<b>FB</b>", "bfbb"},
	} {
		if got := SourceOf(tc.ref, tc.page, tc.utm); got != tc.want {
			t.Errorf("SourceOf(%q, %q, %q) = %q, want %q", tc.ref, tc.page, tc.utm, got, tc.want)
		}
	}
	for ua, want := range map[string]string{
		chromeUA: Desktop,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": Mobile,
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1":          Tablet,
		"Lavf/61.7.100": Other,
	} {
		if got, _ := DeviceOf(ua); got != want {
			t.Errorf("DeviceOf(%q) = %q, want %q", ua, got, want)
		}
	}
	for e4, s := range map[int64]string{0: "0.00", 125000: "12.50", 1250: "0.125", 1290000: "129.00"} {
		if got := FormatAmount(e4); got != s {
			t.Errorf("FormatAmount(%d) = %q, want %q", e4, got, s)
		}
		if got, err := ParseAmount(s); err != nil || got != e4 {
			t.Errorf("ParseAmount(%q) = %d, %v", s, got, err)
		}
	}
}

// FuzzTrackBatch: whatever a client sends, decoding and validation never
// panic, and what they accept is bounded.
func FuzzTrackBatch(f *testing.F) {
	f.Add([]byte(`{"viewer_id":"v1","session_id":"s1","events":[{"id":"e0000001","type":"page.view"}]}`))
	f.Add([]byte(`{"viewer_id":"v1","events":[{"id":"e0000003","type":"purchase","amount":"12.50","currency":"EUR","product_ids":["p"]}]}`))
	f.Add([]byte(`{"viewer_id":"v1","sent_at":"2026-11-22T08:00:00Z","events":[{"id":"e0000001","type":"alert.subscribe","channel":"sms","email":"a@b.c"}]}`))
	f.Add([]byte(`{"viewer_id":"v1","events":[{"id":"e0000001","type":"teaser.watch","duration_ms":-1}]}`))
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, err := DecodeBatch(b)
		if err != nil {
			return
		}
		evs, err := batch.Validate(Request{CampaignID: "c", Now: now, UserAgent: chromeUA})
		if err != nil {
			return
		}
		if len(evs) == 0 || len(evs) > MaxBatchEvents {
			t.Fatalf("%d events accepted", len(evs))
		}
		for _, e := range evs {
			if len(e.EventID) > MaxIDLength || len(e.ViewerID) > MaxIDLength || len(e.Data) > 16<<10 ||
				e.At.After(now) || e.At.Before(now.Add(-maxPastSkew)) {
				t.Fatalf("unbounded event accepted: %+v", e)
			}
		}
	})
}
