package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// Options select what Compute reports.
type Options struct {
	// Phase is Prelive, Live or Replay; "" for all three.
	Phase string
	// From and To narrow prelive and replay (nil: open).
	From, To *time.Time
	// Bucket is the evolution series' bucket; 0 picks one (AutoBucket of
	// the longest phase reported).
	Bucket time.Duration
	// Now is the clock (zero: time.Now).
	Now time.Time
}

// ErrTooManyPoints: the bucket cuts a phase into more than MaxPoints.
var ErrTooManyPoints = errors.New("bucket too small for the time range")

// entryTypes are the events whose device and source describe a viewer:
// in each phase, the first one the server got from each viewer sets them
// (see viewerAttrs).
var entryTypes = []string{TypePageView, TypeSessionStart, TypeWHEPStart, TypeHLSStart, TypeWidgetView}

// sessionTypes are the events that only say a viewer was there; every
// other type is counted by the aggregate queries.
var countedTypes = []string{TypePageView, TypeWidgetView, TypeWidgetClick, TypeTeaserWatch, TypeCatalogOpen,
	TypeProductClick, TypeCartAdd, TypeCartCreate, TypePurchase, TypeShare, TypeLike, TypeAlertOpen,
	TypeAlertSubscribe, TypeSurveyView}

// campaignData is what every phase reads, loaded once.
type campaignData struct {
	c         *store.Campaign
	tl        Timeline
	orders    []store.Order
	reminders []store.Reminder
	purchases []purchase
	carts     []store.TrackedEvent
	// attrs are each viewer's device and source over the whole campaign;
	// phaseAttrs, within each phase.
	attrs      map[string]viewerAttrs
	phaseAttrs map[string]map[string]viewerAttrs
	currency   string
	catalog    map[string]catalogEntry
}

// viewerAttrs are a viewer's device and traffic source. The first entry
// event a player or widget sent (page.view, session.start, widget.view:
// they carry the referrer and utm_source) sets them; a session the server
// saw itself (whep.start, hls.start: a device, no source) sets them only
// until one arrives. First: in the order of time, then event id.
type viewerAttrs struct {
	device, source string
	client         bool
	at             int64 // the event's time, microseconds
	eventID        string
}

// noteAttrs keeps e's attributes for its viewer in m unless m already has
// better ones: a player's over the server's, else the earlier. Events
// may come in any order.
func noteAttrs(m map[string]viewerAttrs, e *store.TrackedEvent, at int64) {
	client := e.Type != TypeWHEPStart && e.Type != TypeHLSStart
	cur, ok := m[e.ViewerID]
	if !ok || (client && !cur.client) ||
		(client == cur.client && (at < cur.at || (at == cur.at && e.EventID < cur.eventID))) {
		m[e.ViewerID] = viewerAttrs{device: e.Device, source: e.Source, client: client, at: at, eventID: e.EventID}
	}
}

// attrsOf are v's attributes in a phase: where it came from that time,
// else (a viewer the phase saw only over WHEP or HLS) what its player
// said in another phase.
func (d *campaignData) attrsOf(phase, v string) viewerAttrs {
	a, ok := d.phaseAttrs[phase][v]
	if ok && a.client {
		return a
	}
	if c, cok := d.attrs[v]; cok && (c.client || !ok) {
		return c
	}
	return a
}

// group counts a phase's events of one type: all of them, those of one
// target (Key), or those of one time bucket of a series (Bucket).
type group struct {
	Type     string
	Key      string // the target; "" for the type's total or a bucket
	Bucket   int64  // the bucket's index; 0 outside a series
	Count    int64  // events
	Viewers  int64  // distinct non-empty viewer ids
	SumValue int64  // sum of Value
}

// phaseRaw is what the queries of one phase return.
type phaseRaw struct {
	name        string
	w           Window
	visits      []visit
	audience    audienceStats
	byType      map[string]group
	byTarget    map[string]map[string]group
	clicksByPID map[string]int64
	clickers    map[string]bool
	interacting map[string]bool
	reach       int64
	alertOpen   int64
	alertValid  int64
	clickSeries []group
	calSeries   []group
	fold        *chatFold
}

// Compute reports the campaign's metrics.
func Compute(ctx context.Context, st store.Store, campaignID string, opt Options) (*Report, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	opt.Now = opt.Now.UTC().Truncate(time.Microsecond)
	d, err := load(ctx, st, campaignID, opt.Now)
	if err != nil {
		return nil, err
	}
	phases := Phases
	if opt.Phase != "" {
		phases = []string{opt.Phase}
	}
	var raws []*phaseRaw
	longest := time.Duration(0)
	for _, p := range phases {
		w, ok := d.tl.Window(p, opt.From, opt.To)
		if !ok {
			continue
		}
		raws = append(raws, &phaseRaw{name: p, w: w})
		longest = max(longest, w.Duration())
	}
	bucket := opt.Bucket
	if bucket <= 0 {
		bucket = AutoBucket(longest)
	}
	for _, r := range raws {
		if r.w.Duration()/bucket > MaxPoints {
			return nil, fmt.Errorf("%w: %s would have more than %d points", ErrTooManyPoints, r.name, MaxPoints)
		}
	}
	// The log once more, split by phase, a page at a time; the survey's
	// and the interactions' events are kept for their folds.
	folds := map[string]*chatFold{Prelive: newChatFold(), Live: newChatFold(), Replay: newChatFold()}
	shownLive := map[string]bool{}
	var survey, interactions []store.Event
	err = EachEvent(ctx, st, campaignID, func(e *store.Event) error {
		ph := d.tl.PhaseOf(e.At)
		if w, ok := d.tl.Window(ph, opt.From, opt.To); ok && w.Contains(e.At) {
			folds[ph].add(e)
		}
		switch e.Type {
		case events.TypeProductPinned:
			if p, ok := decode[events.ProductPinned](e); ok && ph == Live {
				shownLive[p.Product.ID] = true
			}
		case events.TypeSurveyAnswered:
			survey = append(survey, *e)
		case events.TypePollOpened, events.TypePollVoted, events.TypePollResults, events.TypePollClosed,
			events.TypeInstantWinOpened, events.TypeInstantWinEntered, events.TypeInstantWinDrawn:
			interactions = append(interactions, *e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range raws {
		r.fold = folds[r.name]
	}
	views, err := foldTracked(ctx, st, campaignID, d, raws, bucket)
	if err != nil {
		return nil, err
	}
	productIDs := map[string]bool{}
	for _, r := range raws {
		if err := queryPhase(ctx, st, campaignID, r); err != nil {
			return nil, err
		}
		for id := range r.clicksByPID {
			productIDs[id] = true
		}
	}
	if err := d.loadCatalog(ctx, st, productIDs, shownLive); err != nil {
		return nil, err
	}

	rep := &Report{CampaignID: campaignID, GeneratedAt: opt.Now, Currency: d.currency, From: opt.From, To: opt.To,
		WentLiveAt: d.tl.WentLive, EndedAt: d.tl.Ended, BucketSeconds: int64(bucket / time.Second),
		Interactions: interactionsOf(interactions)}
	for _, r := range raws {
		b := newBuckets(r.w, bucket)
		switch r.name {
		case Prelive:
			rep.Prelive = d.prelive(r, b)
		case Live:
			rep.Live = d.live(r, b, shownLive, satisfactionOf(survey, views))
		case Replay:
			rep.Replay = d.replay(r, b, shownLive)
		}
	}
	return rep, nil
}

// load reads what every phase needs.
func load(ctx context.Context, st store.Store, campaignID string, now time.Time) (*campaignData, error) {
	c, err := st.GetCampaign(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	d := &campaignData{c: c, attrs: map[string]viewerAttrs{}, phaseAttrs: map[string]map[string]viewerAttrs{}}
	for _, p := range Phases {
		d.phaseAttrs[p] = map[string]viewerAttrs{}
	}
	if d.tl, err = LoadTimeline(ctx, st, c, now); err != nil {
		return nil, err
	}
	if d.orders, err = listAll(ctx, func(p store.Page) ([]store.Order, string, error) {
		return st.ListOrders(ctx, campaignID, p)
	}); err != nil {
		return nil, fmt.Errorf("analytics: orders: %w", err)
	}
	if d.reminders, err = listAll(ctx, func(p store.Page) ([]store.Reminder, string, error) {
		return st.ListReminders(ctx, campaignID, p)
	}); err != nil {
		return nil, fmt.Errorf("analytics: reminders: %w", err)
	}
	var tracked []store.TrackedEvent
	err = st.ScanTrackedEvents(ctx, store.TrackedQuery{CampaignID: campaignID, Types: []string{TypePurchase, TypeCartCreate}},
		func(e *store.TrackedEvent) error {
			if e.Type == TypePurchase {
				tracked = append(tracked, *e)
			} else {
				d.carts = append(d.carts, *e)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("analytics: purchases: %w", err)
	}
	sessions, err := orderSessions(ctx, st, campaignID, d.orders)
	if err != nil {
		return nil, err
	}
	d.purchases = purchasesOf(d.orders, tracked, sessions)
	return d, nil
}

// listAll walks every page of a list.
func listAll[T any](ctx context.Context, list func(store.Page) ([]T, string, error)) ([]T, error) {
	var out []T
	p := store.Page{Limit: 200}
	for {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" || ctx.Err() != nil {
			return out, ctx.Err()
		}
		p.Cursor = next
	}
}

// loadCatalog reads the products the report names, and picks the
// report's currency.
func (d *campaignData) loadCatalog(ctx context.Context, st store.Store, ids, shown map[string]bool) error {
	for _, id := range d.c.ProductIDs {
		ids[id] = true
	}
	for id := range shown {
		ids[id] = true
	}
	for _, p := range d.purchases {
		for _, l := range p.lines {
			ids[l.ProductID] = true
		}
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list)
	d.catalog = map[string]catalogEntry{}
	for len(list) > 0 {
		ps, err := st.GetProducts(ctx, list)
		var missing *store.MissingError
		if errors.As(err, &missing) && len(missing.IDs) > 0 {
			gone := map[string]bool{}
			for _, id := range missing.IDs {
				gone[id] = true
			}
			kept := list[:0]
			for _, id := range list {
				if !gone[id] {
					kept = append(kept, id)
				}
			}
			list = kept
			continue
		}
		if err != nil {
			return fmt.Errorf("analytics: products: %w", err)
		}
		for _, p := range ps {
			price, _ := ParseAmount(p.Price)
			d.catalog[p.ID] = catalogEntry{name: p.Name, price: price, currency: p.Currency}
		}
		break
	}
	for _, id := range d.c.ProductIDs {
		if c, ok := d.catalog[id]; ok && c.currency != "" {
			d.currency = c.currency
			return nil
		}
	}
	count := map[string]int{}
	for _, p := range d.purchases {
		count[p.currency]++
	}
	for cur, n := range count {
		if d.currency == "" || n > count[d.currency] || (n == count[d.currency] && cur < d.currency) {
			d.currency = cur
		}
	}
	if d.currency == "" {
		d.currency = "EUR"
	}
	return nil
}

// queryPhase folds the phase's sessions into visits and its audience.
func queryPhase(ctx context.Context, st store.Store, campaignID string, r *phaseRaw) error {
	spans, err := st.TrackedSessions(ctx, store.TrackedQuery{CampaignID: campaignID, From: r.w.From, To: r.w.To})
	if err != nil {
		return fmt.Errorf("analytics: sessions: %w", err)
	}
	r.visits = visitsOf(spans, r.w)
	r.audience = audienceOf(r.visits, r.w)
	for v := range r.fold.interacting {
		r.interacting[v] = true
	}
	return nil
}

// countOnlyTypes are the counted types that are not entry types:
// foldTracked reads them without their origin, the entry types with it.
// Heartbeats and ends (most events) only make sessions, which
// TrackedSessions folds.
var countOnlyTypes = func() []string {
	var out []string
	for _, t := range countedTypes {
		if !slices.Contains(entryTypes, t) {
			out = append(out, t)
		}
	}
	return out
}()

var (
	isCounted     = setOf(countedTypes)
	isEntry       = setOf(entryTypes)
	isInteraction = setOf(interactionTypes)
)

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

// typeTarget keys the counts of a phase.
type typeTarget struct{ typ, target string }

// counter is one group's count, distinct viewers and sum of values.
type counter struct {
	count, sumValue int64
	viewers         map[string]bool
}

// phaseFold is what foldTracked gathers for one phase: its window and
// the series' base and bucket, in microseconds like the store's times.
type phaseFold struct {
	r                  *phaseRaw
	from, to           int64
	base, bucket       int64
	groups             map[typeTarget]*counter
	clicks, cal        map[int64]int64
	reach, open, valid map[string]bool
}

// foldTracked reads the campaign's counted and entry events once, in no
// order, and gathers what each phase of raws reports of them (the same
// counts, distinct viewers and series a GROUP BY over the phase's window
// would give), each viewer's device and source (d.attrs, d.phaseAttrs),
// and returns the viewers the survey was shown to.
func foldTracked(ctx context.Context, st store.Store, campaignID string, d *campaignData, raws []*phaseRaw,
	bucket time.Duration) ([]string, error) {
	folds := make([]*phaseFold, len(raws))
	for i, r := range raws {
		r.byType, r.byTarget = map[string]group{}, map[string]map[string]group{}
		r.clicksByPID, r.clickers, r.interacting = map[string]int64{}, map[string]bool{}, map[string]bool{}
		folds[i] = &phaseFold{r: r, from: micros(r.w.From), to: micros(r.w.To), base: micros(r.w.From),
			bucket: bucket.Microseconds(), groups: map[typeTarget]*counter{}, clicks: map[int64]int64{},
			cal: map[int64]int64{}, reach: map[string]bool{}, open: map[string]bool{}, valid: map[string]bool{}}
	}
	views := map[string]bool{}
	fold := func(e *store.TrackedEvent) error {
		at := e.At.UnixMicro()
		v := e.ViewerID
		if v != "" {
			if isEntry[e.Type] {
				noteAttrs(d.attrs, e, at)
				noteAttrs(d.phaseAttrs[d.tl.PhaseOf(e.At)], e, at)
			}
			if e.Type == TypeSurveyView {
				views[v] = true
			}
		}
		for _, f := range folds {
			if at >= f.from && at < f.to {
				f.add(e, at)
			}
		}
		return nil
	}
	// A type at a time: the store then does not read the type back.
	for _, t := range append(slices.Clip(entryTypes), countOnlyTypes...) {
		origin := isEntry[t]
		if err := st.ScanTrackedBrief(ctx, store.TrackedQuery{CampaignID: campaignID, Types: []string{t}}, origin, fold); err != nil {
			return nil, fmt.Errorf("analytics: tracked events: %w", err)
		}
	}
	for _, f := range folds {
		f.finish()
	}
	out := make([]string, 0, len(views))
	for v := range views {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

// micros is t in the store's microseconds.
func micros(t time.Time) int64 { return t.UTC().Truncate(time.Microsecond).UnixMicro() }

func (f *phaseFold) add(e *store.TrackedEvent, at int64) {
	r, v := f.r, e.ViewerID
	if isCounted[e.Type] {
		k := typeTarget{e.Type, e.Target}
		c := f.groups[k]
		if c == nil {
			c = &counter{viewers: map[string]bool{}}
			f.groups[k] = c
		}
		c.count++
		c.sumValue += e.Value
		if v != "" {
			c.viewers[v] = true
		}
	}
	if v != "" && isInteraction[e.Type] {
		r.interacting[v] = true
	}
	switch e.Type {
	case TypeProductClick:
		r.clicksByPID[e.ProductID]++
		if v != "" {
			r.clickers[v] = true
		}
		f.clicks[(at-f.base)/f.bucket]++
	case TypeWidgetView:
		if v != "" && (e.Target == WidgetProduct || e.Target == WidgetGallery) {
			f.reach[v] = true
		}
	case TypeAlertOpen:
		if v != "" && r.name == Prelive {
			f.open[v] = true
		}
	case TypeAlertSubscribe:
		if r.name == Prelive {
			if v != "" {
				f.valid[v] = true
			}
			if e.Target == ChannelCalendar {
				f.cal[(at-f.base)/f.bucket]++
			}
		}
	}
}

// finish fills the phase's raw numbers.
func (f *phaseFold) finish() {
	r := f.r
	for k, c := range f.groups {
		g := group{Type: k.typ, Key: k.target, Count: c.count, Viewers: int64(len(c.viewers)), SumValue: c.sumValue}
		t := r.byType[k.typ]
		t.Type = k.typ
		t.Count += g.Count
		t.Viewers += g.Viewers // exact for types without target
		t.SumValue += g.SumValue
		r.byType[k.typ] = t
		if r.byTarget[k.typ] == nil {
			r.byTarget[k.typ] = map[string]group{}
		}
		r.byTarget[k.typ][k.target] = g
	}
	r.reach = int64(len(f.reach))
	r.clickSeries = seriesGroups(TypeProductClick, f.clicks)
	if r.name == Prelive {
		r.alertOpen, r.alertValid = int64(len(f.open)), int64(len(f.valid))
		r.calSeries = seriesGroups(TypeAlertSubscribe, f.cal)
	}
}

// seriesGroups are the counts per bucket as groups.
func seriesGroups(typ string, counts map[int64]int64) []group {
	out := make([]group, 0, len(counts))
	for b, n := range counts {
		out = append(out, group{Type: typ, Bucket: b, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bucket < out[j].Bucket })
	return out
}

func (d *campaignData) widget(r *phaseRaw, target string) WidgetStats {
	v, c := r.byTarget[TypeWidgetView][target], r.byTarget[TypeWidgetClick][target]
	return WidgetStats{TotalViews: v.Count, UniqueViews: v.Viewers, Clicks: c.Count, ClickRate: pct(c.Viewers, v.Viewers)}
}

func (d *campaignData) devices(phase string, audience map[string]bool) DeviceShare {
	var s DeviceShare
	for v := range audience {
		switch d.attrsOf(phase, v).device {
		case Desktop:
			s.DesktopCount++
		case Mobile:
			s.MobileCount++
		case Tablet:
			s.TabletCount++
		default:
			s.OtherCount++
		}
	}
	n := int64(len(audience))
	s.Desktop, s.Mobile, s.Tablet, s.Other = pct(s.DesktopCount, n), pct(s.MobileCount, n), pct(s.TabletCount, n), pct(s.OtherCount, n)
	return s
}

func (d *campaignData) sources(phase string, audience map[string]bool) []SourceShare {
	count := map[string]int64{}
	for v := range audience {
		src := d.attrsOf(phase, v).source
		if src == "" {
			src = Direct
		}
		count[src]++
	}
	out := make([]SourceShare, 0, len(count))
	for src, n := range count {
		out = append(out, SourceShare{Source: src, Visitors: n, Percent: pct(n, int64(len(audience)))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Visitors != out[j].Visitors {
			return out[i].Visitors > out[j].Visitors
		}
		return out[i].Source < out[j].Source
	})
	return out
}

func (d *campaignData) prelive(r *phaseRaw, b buckets) *PreliveMetrics {
	a := r.audience
	m := &PreliveMetrics{Window: r.w,
		Audience: VisitorAudience{TotalVisitors: a.visits, UniqueVisitors: int64(len(a.viewers)),
			AverageSessionSeconds: a.avgSession, Shares: r.fold.shares + r.byType[TypeShare].Count},
		ProductWidget:  d.widget(r, WidgetProduct),
		TeasingVideo:   TeaserStats{TotalWatch: r.byType[TypeTeaserWatch].Count, UniqueWatch: r.byType[TypeTeaserWatch].Viewers},
		Devices:        d.devices(Prelive, a.viewers),
		TrafficSources: d.sources(Prelive, a.viewers),
		AlertingFunnel: AlertingFunnel{AudienceReach: r.reach, UniqueViewers: int64(len(a.viewers)),
			AlertingModal: r.alertOpen, AlertingValidation: r.alertValid},
	}
	if t := r.byType[TypeTeaserWatch]; t.Viewers > 0 {
		m.TeasingVideo.AverageWatchSeconds = round2(float64(t.SumValue) / 1000 / float64(t.Viewers))
	}
	var sms []time.Time
	for _, rem := range d.reminders {
		if r.w.Contains(rem.CreatedAt) {
			sms = append(sms, rem.CreatedAt)
			m.Alerting.SMSAlerts++
			if rem.OptIn {
				m.Alerting.CommercialOptIn++
			}
		}
	}
	m.Alerting.CalendarAlerts = r.byTarget[TypeAlertSubscribe][ChannelCalendar].Viewers
	uv := int64(len(a.viewers))
	m.Alerting.SMSAlertingRate = pct(m.Alerting.SMSAlerts, uv)
	m.Alerting.CalendarAlertingRate = pct(m.Alerting.CalendarAlerts, uv)
	m.Alerting.RetargetingRate = pct(m.Alerting.CommercialOptIn, m.Alerting.SMSAlerts)
	m.Evolution = PreliveEvolution{Viewers: viewerSeries(r.visits, b), SMSSubscriptions: seriesOf(sms, b),
		CalendarSubscriptions: groupSeries(r.calSeries, b)}
	m.Products = make([]ProductClicks, 0, len(r.clicksByPID))
	for id, n := range r.clicksByPID {
		m.Products = append(m.Products, ProductClicks{ProductID: id, Name: d.catalog[id].name, Clicks: n})
	}
	sort.Slice(m.Products, func(i, j int) bool {
		if m.Products[i].Clicks != m.Products[j].Clicks {
			return m.Products[i].Clicks > m.Products[j].Clicks
		}
		return m.Products[i].ProductID < m.Products[j].ProductID
	})
	return m
}

// viewerPhase is what live and replay have in common.
func (d *campaignData) viewerPhase(r *phaseRaw, b buckets, shown map[string]bool) (ViewerAudience, ViewerEvolution, ConversionFunnel, Business, []ProductStats) {
	a := r.audience
	aud := ViewerAudience{TotalViewers: a.visits, UniqueViewers: int64(len(a.viewers)), MaxViewers: a.max,
		AverageViewers: a.average, AverageSessionSeconds: a.avgSession, Shares: r.fold.shares + r.byType[TypeShare].Count}
	// The phase's purchases (see business.go for the rule): every order
	// reported during it; a purchase only tracked, when its viewer watched
	// the phase (else it is a purchase on the seller's site by someone
	// who never did). A buyer who watched the phase interacted.
	var purchases []purchase
	var times []time.Time
	for _, p := range d.purchases {
		if r.w.Contains(p.at) && (p.order || a.viewers[p.viewer]) {
			purchases = append(purchases, p)
			times = append(times, p.at)
			if p.viewer != "" && a.viewers[p.viewer] {
				r.interacting[p.viewer] = true
			}
		}
	}
	var carts []store.TrackedEvent
	for _, c := range d.carts {
		if r.w.Contains(c.At) {
			carts = append(carts, c)
		}
	}
	biz, products := businessOf(businessInput{currency: d.currency, catalog: d.catalog, shown: shown, audience: a.viewers,
		byType: r.byType, clickers: r.clickers, carts: carts, purchases: purchases, clicksByPID: r.clicksByPID})
	evo := ViewerEvolution{Viewers: viewerSeries(r.visits, b), ProductClicks: groupSeries(r.clickSeries, b),
		Purchases: seriesOf(times, b)}
	funnel := ConversionFunnel{AudienceReach: r.reach, UniqueViewers: int64(len(a.viewers)), Purchases: biz.Purchases}
	return aud, evo, funnel, biz, products
}

func (d *campaignData) live(r *phaseRaw, b buckets, shown map[string]bool, sat Satisfaction) *LiveMetrics {
	aud, evo, funnel, biz, products := d.viewerPhase(r, b, shown)
	f := r.fold
	uv := int64(len(r.audience.viewers))
	return &LiveMetrics{Window: r.w,
		General: LiveGeneral{DurationSeconds: round2(r.w.Duration().Seconds()), Messages: f.messages, Questions: f.questions,
			BrandAnswers: f.answers, Likes: f.likes, Shares: aud.Shares,
			ViewerEngagementRate:  pct(countIn(r.interacting, r.audience.viewers), uv),
			ChatParticipationRate: pct(countIn(f.chatters, r.audience.viewers), uv),
			ChatQuestionRate:      pct(countIn(f.askers, r.audience.viewers), uv)},
		Audience: aud, Evolution: evo,
		ProductWidget: d.widget(r, WidgetProduct), FloatingPlayerWidget: d.widget(r, WidgetPlayer),
		Devices: d.devices(Live, r.audience.viewers), TrafficSources: d.sources(Live, r.audience.viewers),
		ConversionFunnel: funnel, Business: biz, Products: products, Satisfaction: sat,
	}
}

func (d *campaignData) replay(r *phaseRaw, b buckets, shown map[string]bool) *ReplayMetrics {
	aud, evo, funnel, biz, products := d.viewerPhase(r, b, shown)
	return &ReplayMetrics{Window: r.w, Audience: aud, Evolution: evo, ProductWidget: d.widget(r, WidgetProduct),
		Devices: d.devices(Replay, r.audience.viewers), TrafficSources: d.sources(Replay, r.audience.viewers),
		ConversionFunnel: funnel, Business: biz, Products: products}
}
