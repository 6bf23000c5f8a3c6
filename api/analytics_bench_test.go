package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTrackIngest posts batches of 20 tracking events to
// POST /live/{id}/track over HTTP, from 4 x GOMAXPROCS clients at once, on SQLite:
// decoding, validation, device and source, the deduplicating insert.
// events/s is the endpoint's ingest rate. Run with
//
//	go test -run '^$' -bench TrackIngest -benchtime 3s ./api/
func BenchmarkTrackIngest(b *testing.B) {
	const perBatch = 20
	e := newEnv(b, func(c *Config) { c.TrackLimit = RateLimit{Burst: -1} })
	c := e.createCampaign(map[string]any{"published": true})
	e.clock.Set(time.Now().UTC().Add(time.Minute))
	url := e.srv.URL + "/live/" + c.ID + "/track"
	client := e.srv.Client()
	var seq atomic.Int64
	body := func() string {
		var sb strings.Builder
		n := seq.Add(1)
		fmt.Fprintf(&sb, `{"viewer_id":"v%d","session_id":"s%d","referrer":"https://www.instagram.com/p/x","events":[`, n%5000, n%5000)
		for i := range perBatch {
			if i > 0 {
				sb.WriteByte(',')
			}
			if i%5 == 4 {
				fmt.Fprintf(&sb, `{"id":"e%012d%02d","type":"product.click","product_id":"prd_%d"}`, n, i, i%3)
			} else {
				fmt.Fprintf(&sb, `{"id":"e%012d%02d","type":"session.heartbeat"}`, n, i)
			}
		}
		sb.WriteString(`]}`)
		return sb.String()
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, strings.NewReader(body()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", desktopUA)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "events/s")
}
