package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"vitrine/stream"
)

// hubCollector exports the hub's per-stream counters at scrape time, so the
// hot path keeps plain atomics and knows nothing of Prometheus.
type hubCollector struct {
	hub *stream.Hub

	online, bytesIn, unitsIn, dropped, bitrate, readers *prometheus.Desc
}

func newHubCollector(h *stream.Hub) *hubCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("vitrine_stream_"+name, help, append([]string{"stream"}, labels...), nil)
	}
	return &hubCollector{
		hub:     h,
		online:  d("publisher_connected", "1 when a publisher is connected to the stream."),
		bytesIn: d("ingest_bytes_total", "Payload bytes received from publishers."),
		unitsIn: d("ingest_units_total", "Access units (frames) received from publishers."),
		dropped: d("reader_dropped_units_total", "Units lost by readers that fell behind (skipped to the next keyframe)."),
		bitrate: d("ingest_bitrate_bits_per_second", "Ingest bitrate over the last seconds."),
		readers: d("readers", "Readers attached to the stream, by kind.", "kind"),
	}
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.online, c.bytesIn, c.unitsIn, c.dropped, c.bitrate, c.readers} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.hub.Streams() {
		st := s.Stats()
		online := 0.0
		if st.Online {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(c.online, prometheus.GaugeValue, online, st.ID)
		ch <- prometheus.MustNewConstMetric(c.bytesIn, prometheus.CounterValue, float64(st.BytesIn), st.ID)
		ch <- prometheus.MustNewConstMetric(c.unitsIn, prometheus.CounterValue, float64(st.UnitsIn), st.ID)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped), st.ID)
		ch <- prometheus.MustNewConstMetric(c.bitrate, prometheus.GaugeValue, float64(st.Bitrate), st.ID)
		for kind, n := range st.Readers {
			ch <- prometheus.MustNewConstMetric(c.readers, prometheus.GaugeValue, float64(n), st.ID, kind)
		}
	}
}
