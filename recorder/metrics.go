package recorder

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the recorder's counters, plain atomics on the write path,
// exported at scrape time by Collector (the hub's way, server/metrics.go).
type metrics struct {
	r                            *Recorder
	bytes, segments, writeErrors atomic.Uint64
	syncSeconds                  prometheus.Histogram

	bytesDesc, segmentsDesc, errorsDesc, recordingDesc, streamBytesDesc, streamErrorsDesc *prometheus.Desc
}

func newMetrics() *metrics {
	return &metrics{
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vitrine_recorder_fragment_write_seconds",
			Help:    "Time to write and sync one recorded fragment to disk.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		bytesDesc:        prometheus.NewDesc("vitrine_recorder_bytes_written_total", "Bytes of fMP4 fragments written and synced.", nil, nil),
		segmentsDesc:     prometheus.NewDesc("vitrine_recorder_segments_total", "Segment files completed.", nil, nil),
		errorsDesc:       prometheus.NewDesc("vitrine_recorder_write_errors_total", "Write errors that stopped a recording (disk full, I/O error, index unavailable).", nil, nil),
		recordingDesc:    prometheus.NewDesc("vitrine_recorder_recording", "1 while the campaign's live is being recorded.", []string{"stream"}, nil),
		streamBytesDesc:  prometheus.NewDesc("vitrine_recorder_stream_bytes_written_total", "Bytes recorded for the campaign since this process started.", []string{"stream"}, nil),
		streamErrorsDesc: prometheus.NewDesc("vitrine_recorder_stream_write_errors_total", "Write errors that stopped the campaign's recording.", []string{"stream"}, nil),
	}
}

// Collector exports the recorder's metrics; register it once.
func (r *Recorder) Collector() prometheus.Collector { return r.metrics }

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.syncSeconds.Describe(ch)
	for _, d := range []*prometheus.Desc{m.bytesDesc, m.segmentsDesc, m.errorsDesc, m.recordingDesc,
		m.streamBytesDesc, m.streamErrorsDesc} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.syncSeconds.Collect(ch)
	ch <- prometheus.MustNewConstMetric(m.bytesDesc, prometheus.CounterValue, float64(m.bytes.Load()))
	ch <- prometheus.MustNewConstMetric(m.segmentsDesc, prometheus.CounterValue, float64(m.segments.Load()))
	ch <- prometheus.MustNewConstMetric(m.errorsDesc, prometheus.CounterValue, float64(m.writeErrors.Load()))
	m.r.mu.Lock()
	type row struct {
		id string
		s  *streamStats
	}
	rows := make([]row, 0, len(m.r.stats))
	for id, s := range m.r.stats {
		rows = append(rows, row{id, s})
	}
	m.r.mu.Unlock()
	for _, x := range rows {
		rec := 0.0
		if x.s.recording.Load() {
			rec = 1
		}
		ch <- prometheus.MustNewConstMetric(m.recordingDesc, prometheus.GaugeValue, rec, x.id)
		ch <- prometheus.MustNewConstMetric(m.streamBytesDesc, prometheus.CounterValue, float64(x.s.bytes.Load()), x.id)
		ch <- prometheus.MustNewConstMetric(m.streamErrorsDesc, prometheus.CounterValue, float64(x.s.errors.Load()), x.id)
	}
}
