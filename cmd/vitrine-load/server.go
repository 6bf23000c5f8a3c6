package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
)

// serverProbe reads the server's own figures from /metrics.
type serverProbe struct {
	url  string
	http *http.Client

	first, last sample
	maxRSS      float64
	base        sample // the first reading, before any viewer joined
}

type sample struct {
	at      time.Time
	cpu     float64 // seconds
	rss     float64 // bytes
	heap    float64 // bytes of Go heap in use (live and not yet collected)
	bcasts  float64 // events broadcast to parked WebSockets
	bcastS  float64 // seconds spent writing them
	gor     float64
	dropped float64
	ok      bool
}

func (p *serverProbe) read() sample {
	res, err := p.http.Get(p.url)
	if err != nil {
		return sample{}
	}
	defer res.Body.Close()
	var parser expfmt.TextParser
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		return sample{}
	}
	sum := func(name string) float64 {
		f, ok := fams[name]
		if !ok {
			return 0
		}
		var v float64
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				v += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v += m.GetGauge().GetValue()
			}
		}
		return v
	}
	return sample{at: time.Now(), ok: true,
		cpu: sum("process_cpu_seconds_total"), rss: sum("process_resident_memory_bytes"),
		heap:   sum("go_memstats_heap_inuse_bytes"),
		bcasts: sum("vitrine_events_broadcasts_total"), bcastS: sum("vitrine_events_broadcast_seconds_total"),
		gor: sum("go_goroutines"), dropped: sum("vitrine_stream_reader_dropped_units_total")}
}

// sample reads /metrics and describes the interval since the previous call.
func (p *serverProbe) sample() string {
	s := p.read()
	if !s.ok {
		return "server metrics unavailable"
	}
	prev := p.last
	p.last = s
	if !p.first.ok {
		p.first = s
	}
	if !p.base.ok {
		p.base = s
	}
	p.maxRSS = max(p.maxRSS, s.rss)
	if !prev.ok {
		return ""
	}
	out := fmt.Sprintf("server CPU %.0f%%, RSS %.0f MiB, goroutines %.0f, dropped units %.0f",
		(s.cpu-prev.cpu)/s.at.Sub(prev.at).Seconds()*100, s.rss/(1<<20), s.gor, s.dropped-prev.dropped)
	if n := s.bcasts - prev.bcasts; n > 0 {
		out += fmt.Sprintf(", server broadcast %.1f ms/event", (s.bcastS-prev.bcastS)/n*1000)
	}
	return out
}

// perConn estimates the server's memory per connected viewer: what its
// RSS and its Go heap in use grew by since before the viewers joined, over
// the viewers connected now. (RSS keeps what the garbage collector freed
// until the runtime returns it; the heap counts garbage not yet collected.)
func (p *serverProbe) perConn(connected int) string {
	if !p.base.ok || !p.last.ok || connected <= 0 {
		return ""
	}
	return fmt.Sprintf(", RSS/conn %.1f KiB, heap/conn %.1f KiB", (p.last.rss-p.base.rss)/float64(connected)/1024,
		(p.last.heap-p.base.heap)/float64(connected)/1024)
}

// restart makes the summary cover only what follows (the ramp is excluded).
func (p *serverProbe) restart() {
	p.first, p.maxRSS = p.last, p.last.rss
}

func (p *serverProbe) summary() string {
	if !p.first.ok || !p.last.ok || p.last.at.Equal(p.first.at) {
		return "server metrics unavailable"
	}
	return fmt.Sprintf("server CPU %.0f%% average, RSS max %.0f MiB, dropped units %.0f",
		(p.last.cpu-p.first.cpu)/p.last.at.Sub(p.first.at).Seconds()*100, p.maxRSS/(1<<20),
		p.last.dropped-p.first.dropped)
}
