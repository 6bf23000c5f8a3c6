package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"vitrine/analytics"
)

const desktopUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// TestTrackBatches: a batch is counted once however often it is sent; an
// invalid one is refused whole, naming every field; a bot's is ignored;
// only published campaigns take batches.
func TestTrackBatches(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("TRK-1", nil)
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{p.ID}})
	draft := e.createCampaign(nil)
	other := e.createCampaign(map[string]any{"published": true})
	// The store stamps the campaign's creation with the real clock: the
	// prelive begins there.
	e.clock.Set(time.Now().UTC().Add(time.Minute).Truncate(time.Second))
	ua := withHeader("User-Agent", desktopUA)
	track := "/live/" + c.ID + "/track"

	batch := fmt.Sprintf(`{"viewer_id":"v1","session_id":"s1","page_url":"https://shop.example/live?utm_source=Newsletter",
		"events":[{"id":"e0000001","type":"page.view"},{"id":"e0000002","type":"product.click","product_id":%q},
		{"id":"e0000003","type":"share","network":"whatsapp"}]}`, p.ID)
	var res trackResult
	e.must(http.StatusAccepted, "POST", track, batch, noAuth, ua).decode(t, &res)
	if res != (trackResult{Accepted: 3}) {
		t.Fatalf("first send: %+v", res)
	}
	// Sent again (a retry after a lost answer): nothing new.
	res = trackResult{}
	e.must(http.StatusAccepted, "POST", track, batch, noAuth, ua).decode(t, &res)
	if res != (trackResult{Duplicates: 3}) {
		t.Fatalf("replayed batch: %+v", res)
	}
	// The same event ids for another campaign are other events.
	res = trackResult{}
	e.must(http.StatusAccepted, "POST", "/live/"+other.ID+"/track", batch, noAuth, ua).decode(t, &res)
	if res.Accepted != 3 {
		t.Fatalf("another campaign's batch: %+v", res)
	}

	// A bot's batch is not counted.
	res = trackResult{}
	e.must(http.StatusAccepted, "POST", track, `{"viewer_id":"bot","events":[{"id":"b0000001","type":"page.view"}]}`,
		noAuth, withHeader("User-Agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")).decode(t, &res)
	if res != (trackResult{Ignored: 1}) {
		t.Fatalf("bot: %+v", res)
	}

	// Invalid: refused whole (its valid event is not stored either), every
	// bad field named.
	r := e.must(http.StatusUnprocessableEntity, "POST", track, `{"viewer_id":"v2","events":[
		{"id":"x0000001","type":"page.view"},
		{"id":"x0000002","type":"purchase","amount":"12,5","currency":"eur"},
		{"id":"x0000003","type":"hls.start"},
		{"id":"x0000001","type":"like"}]}`, noAuth, ua)
	if code := r.errCode(t); code != "validation_failed" {
		t.Fatalf("code %s", code)
	}
	want := []string{"events[1].amount", "events[1].currency", "events[2].type", "events[3].id"}
	if got := r.fields(t); !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	var many strings.Builder
	many.WriteString(`{"viewer_id":"v3","events":[`)
	for i := range analytics.MaxBatchEvents + 1 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"id":"m%07d","type":"like"}`, i)
	}
	many.WriteString(`]}`)
	if got := e.must(http.StatusUnprocessableEntity, "POST", track, many.String(), noAuth, ua).fields(t); !slices.Equal(got, []string{"events"}) {
		t.Fatalf("101 events: fields %v", got)
	}
	big := `{"viewer_id":"v4","referrer":"` + strings.Repeat("a", analytics.MaxBatchBytes) + `","events":[]}`
	if code := e.must(http.StatusRequestEntityTooLarge, "POST", track, big, noAuth, ua).errCode(t); code != "body_too_large" {
		t.Fatalf("oversized: %s", code)
	}
	if code := e.must(http.StatusBadRequest, "POST", track, `{"viewer_id":"v5","events":[]}{}`, noAuth, ua).errCode(t); code != "invalid_json" {
		t.Fatalf("two values: %s", code)
	}
	e.must(http.StatusNotFound, "POST", "/live/"+draft.ID+"/track", batch, noAuth, ua)
	e.must(http.StatusNotFound, "POST", "/live/cmp_nope/track", batch, noAuth, ua)

	// What was counted: v1's visit, its click and share, once.
	e.clock.Set(e.clock.Now().Add(time.Second))
	var rep analytics.Report
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/analytics", nil).decode(t, &rep)
	if rep.Live != nil || rep.Replay != nil || rep.Prelive == nil {
		t.Fatalf("never live: prelive only: %+v", rep)
	}
	pre := rep.Prelive
	if a := pre.Audience; a.TotalVisitors != 1 || a.UniqueVisitors != 1 || a.Shares != 1 {
		t.Errorf("audience %+v", a)
	}
	if len(pre.Products) != 1 || pre.Products[0] != (analytics.ProductClicks{ProductID: p.ID, Name: "Product TRK-1", Clicks: 1}) {
		t.Errorf("products %+v", pre.Products)
	}
	if d := pre.Devices; d.DesktopCount != 1 || d.Desktop != 100 {
		t.Errorf("devices %+v", d)
	}
	if s := pre.TrafficSources; len(s) != 1 || s[0] != (analytics.SourceShare{Source: "newsletter", Visitors: 1, Percent: 100}) {
		t.Errorf("sources %+v", s)
	}
}

// TestAnalyticsParams: every parameter of the analytics and export routes
// is checked, with a 400 naming it.
func TestAnalyticsParams(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true})
	e.clock.Set(time.Now().UTC().Add(time.Hour))
	base := "/api/v1/campaigns/" + c.ID
	for _, q := range []string{"phase=lives", "bucket=5", "bucket=abc", "bucket=-60", "bucket=99999999999999",
		"from=yesterday", "to=2026-13-01T00:00:00Z", "from=2026-11-22T10:00:00Z&to=2026-11-22T10:00:00Z",
		"from=2026-11-22T11:00:00Z&to=2026-11-22T10:00:00Z"} {
		if code := e.must(http.StatusBadRequest, "GET", base+"/analytics?"+q, nil).errCode(t); code != "invalid_parameter" {
			t.Errorf("%s: code %s", q, code)
		}
	}
	for _, q := range []string{"include=metrics,videos", "include=", "include=users,", "from=x"} {
		if q == "include=" {
			continue // empty: every part
		}
		if code := e.must(http.StatusBadRequest, "GET", base+"/export.xlsx?"+q, nil).errCode(t); code != "invalid_parameter" {
			t.Errorf("export %s: code %s", q, code)
		}
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/cmp_nope/analytics", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/cmp_nope/export.xlsx", nil)
	e.must(http.StatusUnauthorized, "GET", base+"/analytics", nil, noAuth)
	e.must(http.StatusUnauthorized, "GET", base+"/export.xlsx", nil, noAuth)

	var rep analytics.Report
	e.must(http.StatusOK, "GET", base+"/analytics?phase=prelive&bucket=600", nil).decode(t, &rep)
	if rep.BucketSeconds != 600 || rep.Prelive == nil {
		t.Fatalf("report %+v", rep)
	}

	r := e.must(http.StatusOK, "GET", base+"/export.xlsx?include=chat,metrics", nil)
	if ct := r.Header.Get("Content-Type"); ct != analytics.ExportContentType {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, c.ID+".xlsx") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "Prelive,Live,Replay,Interactions,Chat" {
		t.Fatalf("sheets %s", got)
	}

	// A bucket that cuts a phase into too many points: a month of prelive
	// in 10 s buckets.
	e.clock.Set(time.Now().UTC().Add(30 * 24 * time.Hour))
	if r := e.do("GET", base+"/analytics?phase=prelive&bucket=10", nil); r.Status != http.StatusBadRequest ||
		r.errCode(t) != "invalid_parameter" {
		t.Fatalf("10 s buckets over a month: status %d", r.Status)
	}
	from := url.QueryEscape(time.Now().UTC().Add(30*24*time.Hour - 4*time.Hour).Format(time.RFC3339))
	if r := e.do("GET", base+"/analytics?phase=prelive&bucket=10&from="+from, nil); r.Status != http.StatusOK {
		t.Fatalf("10 s buckets over the last 4 hours: status %d", r.Status)
	}
}
