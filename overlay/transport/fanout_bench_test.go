package transport

import (
	"fmt"
	"testing"

	"vitrine/internal/wsproto"
	"vitrine/overlay"
)

// BenchmarkFanBroadcast: one event written to N parked viewers, one pass
// of the fanout (raw clients on loopback that read nothing meanwhile: the
// kernel's buffers take the frames; the fanout's goroutines wait, as nothing
// is published). ns/op is the whole pass; ns/socket the cost of one
// viewer.
func BenchmarkFanBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := newWSEnv(b, overlay.Config{CountInterval: -1}, Config{}) // nothing published: the fanout's own passes stay idle
			clients := make([]*rawWS, n)
			for i := range clients {
				clients[i] = dialRaw(b, e, "?since=0")
			}
			waitFor(b, "parked", func() bool { return e.h.Parked() == n })
			f := e.h.fanouts[e.room]
			frame := wsproto.AppendFrame(nil, wsproto.OpText, []byte(`{"v":1,"seq":1,"at":"2026-11-22T10:00:00.123Z","type":"product.pinned","data":{"id":"prd_0rqdzkvsxt0352qr2yte","name":"Leather bag","price":"129.00","currency":"EUR"}}`))
			var list []*parkedSocket
			f.mu.Lock()
			for s := range f.socks {
				list = append(list, s)
			}
			f.mu.Unlock()
			b.ResetTimer()
			for i := range b.N {
				f.win.Store(&batch{buf: frame, starts: []batchFrame{{seq: int64(1000 + i)}}, last: int64(1000 + i)})
				f.broadcast(list)
				if i%50 == 49 { // drain the clients' kernel buffers now and then
					b.StopTimer()
					for _, c := range clients {
						_ = c.drain()
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/socket")
		})
	}
}
