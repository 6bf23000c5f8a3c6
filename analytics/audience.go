package analytics

import (
	"sort"
	"time"

	"vitrine/store"
)

// MergeGap joins two spans of one viewer into one visit when the second
// begins at most this long after the first ends: two heartbeats apart,
// the time a player takes to reconnect or switch from WHEP to HLS.
const MergeGap = 2 * HeartbeatEvery

// visit is one viewer's continuous presence.
type visit struct {
	viewer   string
	from, to time.Time
}

// visitsOf clips the spans to w and merges each viewer's overlapping or
// close spans. A span without viewer id is its own viewer.
func visitsOf(spans []store.TrackedSpan, w Window) []visit {
	byViewer := map[string][]visit{}
	for _, s := range spans {
		v := s.ViewerID
		if v == "" {
			v = "session:" + s.SessionID
		}
		from, to := later(s.First, w.From), earlier(s.Last, w.To)
		if to.Before(from) {
			if !w.Contains(s.First) {
				continue
			}
			to = from
		}
		byViewer[v] = append(byViewer[v], visit{viewer: v, from: from, to: to})
	}
	var out []visit
	for _, vs := range byViewer {
		sort.Slice(vs, func(i, j int) bool { return vs[i].from.Before(vs[j].from) })
		cur := vs[0]
		for _, n := range vs[1:] {
			if !n.from.After(cur.to.Add(MergeGap)) {
				cur.to = later(cur.to, n.to)
				continue
			}
			out = append(out, cur)
			cur = n
		}
		out = append(out, cur)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].from.Equal(out[j].from) {
			return out[i].from.Before(out[j].from)
		}
		return out[i].viewer < out[j].viewer
	})
	return out
}

// audienceStats is what the visits of a phase say.
type audienceStats struct {
	visits     int64
	viewers    map[string]bool
	max        int64
	average    float64 // viewers at once, averaged over the window
	avgSession float64 // seconds
}

func audienceOf(vs []visit, w Window) audienceStats {
	a := audienceStats{visits: int64(len(vs)), viewers: map[string]bool{}}
	type edge struct {
		at    time.Time
		delta int64
	}
	edges := make([]edge, 0, 2*len(vs))
	var total time.Duration
	for _, v := range vs {
		a.viewers[v.viewer] = true
		total += v.to.Sub(v.from)
		edges = append(edges, edge{v.from, 1}, edge{v.to, -1})
	}
	// Arrivals before departures at the same instant: a visit of a single
	// event counts at its instant.
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta > edges[j].delta
	})
	var cur int64
	for _, e := range edges {
		cur += e.delta
		a.max = max(a.max, cur)
	}
	if len(vs) > 0 {
		a.avgSession = round2(total.Seconds() / float64(len(vs)))
	}
	if d := w.Duration(); d > 0 {
		a.average = round2(total.Seconds() / d.Seconds())
	}
	return a
}

// viewerSeries counts, per bucket, the distinct viewers present in it.
func viewerSeries(vs []visit, b buckets) []Point {
	counts := make([]int64, b.n)
	last := map[string]int{} // the last bucket counted for a viewer
	for _, v := range vs {
		i0, i1 := b.index(v.from), b.index(v.to)
		if prev, ok := last[v.viewer]; ok && i0 <= prev {
			i0 = prev + 1
		}
		for i := max(i0, 0); i <= i1 && i < b.n; i++ {
			counts[i]++
		}
		if i1 >= 0 {
			last[v.viewer] = max(last[v.viewer], min(i1, b.n-1))
		}
	}
	return b.points(counts)
}

// buckets cuts a window into n buckets of size from its start.
type buckets struct {
	base time.Time
	size time.Duration
	n    int
}

// MaxPoints bounds the buckets of a series.
const MaxPoints = 2000

// niceBuckets are the automatic bucket sizes.
var niceBuckets = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// AutoBucket picks the smallest nice size that cuts d into at most 120
// buckets.
func AutoBucket(d time.Duration) time.Duration {
	for _, b := range niceBuckets {
		if d/b <= 120 {
			return b
		}
	}
	return niceBuckets[len(niceBuckets)-1]
}

func newBuckets(w Window, size time.Duration) buckets {
	n := int((w.Duration() + size - 1) / size)
	if n < 1 {
		n = 1
	}
	return buckets{base: w.From, size: size, n: min(n, MaxPoints)}
}

// index is t's bucket (may be out of [0, n)).
func (b buckets) index(t time.Time) int {
	d := t.Sub(b.base)
	if d < 0 {
		return -1
	}
	return int(d / b.size)
}

func (b buckets) points(counts []int64) []Point {
	out := make([]Point, b.n)
	for i := range out {
		out[i] = Point{At: b.base.Add(time.Duration(i) * b.size), Value: counts[i]}
	}
	return out
}

// seriesOf counts times per bucket.
func seriesOf(times []time.Time, b buckets) []Point {
	counts := make([]int64, b.n)
	for _, t := range times {
		if i := b.index(t); i >= 0 && i < b.n {
			counts[i]++
		}
	}
	return b.points(counts)
}

// groupSeries turns a series' bucket groups into points.
func groupSeries(gs []group, b buckets) []Point {
	counts := make([]int64, b.n)
	for _, g := range gs {
		if g.Bucket >= 0 && g.Bucket < int64(b.n) {
			counts[g.Bucket] += g.Count
		}
	}
	return b.points(counts)
}
