package analytics

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/store"
	"vitrine/store/sqlite"
)

// scripted is a real SQLite store whose campaign, orders and reminders
// are the script's, so that their times (which the store sets to now) are
// the script's too.
type scripted struct {
	store.Store
	c         *store.Campaign
	orders    []store.Order
	reminders []store.Reminder
}

func (s *scripted) GetCampaign(ctx context.Context, id string) (*store.Campaign, error) {
	c := *s.c
	return &c, nil
}

func (s *scripted) ListOrders(ctx context.Context, id string, p store.Page) ([]store.Order, string, error) {
	return s.orders, "", nil
}

func (s *scripted) ListReminders(ctx context.Context, id string, p store.Page) ([]store.Reminder, string, error) {
	return s.reminders, "", nil
}

// base is the script's clock: the campaign is created at base, goes live
// at +60 min, ends at +120 min; metrics are computed at +180 min.
var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func at(min, sec int) time.Time {
	return base.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

type script struct {
	t       testing.TB
	path    string
	st      *scripted
	n       int
	tracked []store.TrackedEvent
}

func newScript(t testing.TB) *script {
	t.Helper()
	return newScriptAt(t, filepath.Join(t.TempDir(), "a.db"))
}

// newScriptAt is newScript on the database at path.
func newScriptAt(t testing.TB, path string) *script {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	var ids []string
	for _, p := range []store.Product{
		{SKU: "A", Name: "Bag", Price: "129.00", Currency: "EUR"},
		{SKU: "B", Name: "Scarf", Price: "39.00", Currency: "EUR"},
		{SKU: "C", Name: "Belt", Price: "50.00", Currency: "EUR"},
	} {
		if err := db.CreateProduct(ctx, &p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	c := &store.Campaign{Title: "Show", StartsAt: at(60, 0), EndsAt: at(300, 0), Visibility: "suggested", ProductIDs: ids}
	if err := db.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.CreatedAt = base
	return &script{t: t, path: path, st: &scripted{Store: db, c: c}}
}

func (s *script) product(i int) string { return s.st.c.ProductIDs[i] }

// ev adds a tracked event.
func (s *script) ev(typ string, t time.Time, viewer, session string, mod ...func(*store.TrackedEvent)) {
	s.n++
	e := store.TrackedEvent{CampaignID: s.st.c.ID, EventID: "e" + time.Duration(s.n).String(), Type: typ, At: t,
		ViewerID: viewer, SessionID: session, Device: Desktop, Source: Direct}
	for _, m := range mod {
		m(&e)
	}
	s.tracked = append(s.tracked, e)
}

// span adds a session from a to b with heartbeats every 30 s.
func (s *script) span(viewer, session string, a, b time.Time, device, source string) {
	attrs := func(e *store.TrackedEvent) { e.Device, e.Source = device, source }
	s.ev(TypePageView, a, viewer, session, attrs)
	for t := a.Add(HeartbeatEvery); t.Before(b); t = t.Add(HeartbeatEvery) {
		s.ev(TypeSessionHeartbeat, t, viewer, session, attrs)
	}
	s.ev(TypeSessionEnd, b, viewer, session, attrs)
}

func (s *script) log(typ string, t time.Time, data any) {
	b, _ := json.Marshal(data)
	if _, err := s.st.AppendEvent(s.t.Context(), s.st.c.ID, typ, t, b); err != nil {
		s.t.Fatal(err)
	}
}

func with(f func(*store.TrackedEvent)) func(*store.TrackedEvent) { return f }

// buildScript is the event of the tests: every number asserted below is
// computed by hand from it, in the comments.
func buildScript(t *testing.T) *script {
	s := newScript(t)
	A, B, C := s.product(0), s.product(1), s.product(2)
	pid := func(id string) func(*store.TrackedEvent) { return func(e *store.TrackedEvent) { e.ProductID = id } }
	target := func(x string) func(*store.TrackedEvent) { return func(e *store.TrackedEvent) { e.Target = x } }
	money := func(e4 int64, data string) func(*store.TrackedEvent) {
		return func(e *store.TrackedEvent) { e.AmountE4, e.Currency, e.Data = e4, "EUR", data }
	}

	// Prelive, 10:00-11:00.
	s.span("p1", "sp1", at(10, 0), at(12, 0), Desktop, "google.com") // 120 s
	s.span("p2", "sp2", at(20, 0), at(21, 0), Mobile, "newsletter")  // 60 s
	s.span("p1", "sp3", at(40, 0), at(41, 0), Desktop, "google.com") // 60 s, a second visit
	s.ev(TypeWidgetView, at(5, 0), "w1", "", target(WidgetProduct))
	s.ev(TypeWidgetView, at(6, 0), "w2", "", target(WidgetProduct))
	s.ev(TypeWidgetView, at(7, 0), "w1", "", target(WidgetProduct))
	s.ev(TypeWidgetClick, at(7, 5), "w1", "", target(WidgetProduct))
	s.ev(TypeWidgetView, at(8, 0), "w3", "", target(WidgetGallery))
	s.ev(TypeTeaserWatch, at(10, 30), "p1", "sp1", func(e *store.TrackedEvent) { e.Value = 30000 })
	s.ev(TypeTeaserWatch, at(11, 0), "p1", "sp1", func(e *store.TrackedEvent) { e.Value = 20000 })
	s.ev(TypeTeaserWatch, at(20, 30), "p2", "sp2", func(e *store.TrackedEvent) { e.Value = 10000 })
	s.ev(TypeAlertOpen, at(11, 10), "p1", "sp1", target(ChannelSMS))
	s.ev(TypeAlertOpen, at(20, 40), "p2", "sp2", target(ChannelCalendar))
	s.ev(TypeAlertSubscribe, at(11, 20), "p1", "sp1", target(ChannelSMS),
		with(func(e *store.TrackedEvent) { e.Data = `{"name":"Pia","phone":"+33600000001","opt_in":true}` }))
	s.ev(TypeAlertSubscribe, at(20, 50), "p2", "sp2", target(ChannelCalendar),
		with(func(e *store.TrackedEvent) { e.Data = `{"email":"paul@example.com"}` }))
	s.ev(TypeProductClick, at(11, 5), "p1", "sp1", pid(A))
	s.ev(TypeShare, at(20, 45), "p2", "sp2", target("whatsapp"))
	s.st.reminders = []store.Reminder{
		{ID: "r1", Phone: "+33600000001", OptIn: true, CreatedAt: at(11, 20)},
		{ID: "r2", Phone: "+33600000002", CreatedAt: at(25, 0)},
	}

	// Live, 11:00-12:00.
	s.log(events.TypeStreamLive, at(60, 0), events.StreamLive{})
	s.span("v1", "s1", at(60, 0), at(90, 0), Desktop, "instagram.com") // 1800 s
	s.ev(TypeWHEPStart, at(65, 0), "v1", "whep-1")                     // the same viewer over WHEP: merged
	s.ev(TypeWHEPEnd, at(85, 0), "v1", "whep-1")
	s.span("v2", "s2", at(70, 0), at(80, 0), Tablet, Direct) // 600 s
	s.ev(TypeHLSStart, at(75, 0), "hls-x", "hls-1", with(func(e *store.TrackedEvent) { e.Device = Other }))
	s.ev(TypeHLSHeartbeat, at(90, 0), "hls-x", "hls-1", with(func(e *store.TrackedEvent) { e.Device = Other }))
	s.ev(TypeHLSEnd, at(105, 0), "hls-x", "hls-1", with(func(e *store.TrackedEvent) { e.Device = Other })) // 1800 s
	s.log(events.TypeProductPinned, at(62, 0), events.ProductPinned{Product: events.ProductRef{ID: A}})
	s.log(events.TypeProductPinned, at(64, 0), events.ProductPinned{Product: events.ProductRef{ID: B}})
	s.log(events.TypeChatMessage, at(66, 0), events.ChatMessage{ID: "m1", ViewerID: "v1", Name: "Vic", Text: "hi"})
	s.log(events.TypeChatQuestion, at(67, 0), events.ChatMessage{ID: "m2", ViewerID: "v1", Name: "Vic", Text: "size?"})
	s.log(events.TypeChatMessage, at(71, 0), events.ChatMessage{ID: "m3", ViewerID: "v2", Name: "Val", Text: "nice"})
	s.log(events.TypeChatAnswer, at(68, 0), events.ChatMessage{ID: "m4", Text: "M and L", ReplyTo: "m2"})
	s.log(events.TypeChatDeleted, at(72, 0), events.MessageRef{MessageID: "m3"})
	s.log(events.TypeLikeCount, at(69, 0), events.LikeCount{Count: 5, Added: 5})
	s.log(events.TypeLikeCount, at(73, 0), events.LikeCount{Count: 8, Added: 3})
	s.log(events.TypeShare, at(74, 0), events.Share{ViewerID: "v2", Network: "x"})
	s.ev(TypeProductClick, at(65, 0), "v1", "s1", pid(A))
	s.ev(TypeProductClick, at(66, 0), "v1", "s1", pid(B))
	s.ev(TypeProductClick, at(72, 0), "v2", "s2", pid(A))
	s.ev(TypeCatalogOpen, at(64, 30), "v1", "s1")
	s.ev(TypeCartAdd, at(65, 30), "v1", "s1", pid(A), with(func(e *store.TrackedEvent) { e.Value = 2 }))
	s.ev(TypeCartCreate, at(66, 30), "v1", "s1", money(2580000, ""))
	s.ev(TypeCartCreate, at(73, 0), "v2", "s2", money(390000, ""))
	s.ev(TypePurchase, at(80, 0), "v1", "s1", money(2580000, `{"order_id":"A-1","product_ids":["`+A+`"]}`))
	s.ev(TypeWidgetView, at(70, 0), "x1", "", target(WidgetPlayer))
	s.ev(TypeWidgetClick, at(70, 5), "x1", "", target(WidgetPlayer))
	s.ev(TypeWidgetView, at(69, 0), "v2", "", target(WidgetProduct), with(func(e *store.TrackedEvent) { e.Device = Tablet }))
	s.ev(TypeSurveyView, at(89, 0), "v1", "s1")
	s.ev(TypeSurveyView, at(79, 0), "v2", "s2")
	s.log(events.TypeSurveyAnswered, at(89, 30), events.SurveyAnswered{ViewerID: "v1", Rating: 5, Comment: "Great"})
	s.log(events.TypeSurveyAnswered, at(79, 30), events.SurveyAnswered{ViewerID: "v2", Rating: 3})
	s.log(events.TypeSurveyAnswered, at(89, 40), events.SurveyAnswered{ViewerID: "v1", Rating: 1}) // a second answer: ignored
	s.log(events.TypePollOpened, at(75, 0), events.PollOpened{Poll: events.Poll{ID: "poll1", Question: "Colour?", Options: []string{"Red", "Blue"}}})
	s.log(events.TypePollVoted, at(75, 10), events.PollVoted{PollID: "poll1", ViewerID: "v1", Option: 0})
	s.log(events.TypePollVoted, at(75, 20), events.PollVoted{PollID: "poll1", ViewerID: "v2", Option: 1})
	s.log(events.TypePollVoted, at(75, 30), events.PollVoted{PollID: "poll1", ViewerID: "v1", Option: 1})
	s.log(events.TypePollClosed, at(76, 0), events.PollResults{PollID: "poll1", Votes: []int64{1, 1}, Total: 2})
	s.log(events.TypeInstantWinOpened, at(77, 0), events.InstantWinOpened{InstantWin: events.InstantWin{ID: "iw1", Prize: "Bag", Winners: 1}})
	s.log(events.TypeInstantWinEntered, at(77, 10), events.InstantWinEntered{InstantWinID: "iw1", ViewerID: "v1", Name: "Vic"})
	s.log(events.TypeInstantWinEntered, at(77, 20), events.InstantWinEntered{InstantWinID: "iw1", ViewerID: "v2", Name: "Val"})
	s.log(events.TypeInstantWinDrawn, at(78, 0), events.InstantWinDrawn{InstantWinID: "iw1", Entrants: 2, Winners: []events.Winner{{ViewerID: "v2", Name: "Val"}}})
	s.st.orders = []store.Order{
		{ID: "o1", Code: "A-1", Items: []store.OrderItem{{ProductID: A, Quantity: 2}}, CustomerName: "Ana", Total: "258.00", Currency: "EUR", CreatedAt: at(80, 5)},
		{ID: "o2", Code: "B-1", Items: []store.OrderItem{{ProductID: C, Quantity: 1}}, CustomerName: "Bob", Total: "50.00", Currency: "EUR", CreatedAt: at(100, 0)},
	}
	s.log(events.TypeStreamEnded, at(120, 0), events.StreamEnded{})

	// Replay, from 12:00.
	s.span("v3", "s3", at(150, 0), at(160, 0), Mobile, "google.com") // 600 s
	s.ev(TypeProductClick, at(152, 0), "v3", "s3", pid(A))
	s.ev(TypePurchase, at(155, 0), "v3", "s3", money(200000, `{"product_ids":["`+B+`"]}`))
	s.ev(TypeShare, at(156, 0), "v3", "s3", target("link"))

	if n, err := s.st.InsertTrackedEvents(t.Context(), s.tracked); err != nil || n != len(s.tracked) {
		t.Fatalf("insert: %d, %v", n, err)
	}
	// A replayed batch is counted once.
	if n, err := s.st.InsertTrackedEvents(t.Context(), s.tracked); err != nil || n != 0 {
		t.Fatalf("insert again: %d, %v", n, err)
	}
	return s
}

func TestComputeScript(t *testing.T) {
	s := buildScript(t)
	A, B, C := s.product(0), s.product(1), s.product(2)
	rep, err := Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0)})
	if err != nil {
		t.Fatal(err)
	}
	eq := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	eq("went live", rep.WentLiveAt, at(60, 0))
	eq("ended", rep.EndedAt, at(120, 0))
	eq("currency", rep.Currency, "EUR")
	eq("bucket", rep.BucketSeconds, 60) // 120 min at most: 1 min buckets

	pre := rep.Prelive
	eq("prelive window", pre.Window, Window{From: base, To: at(60, 0)})
	// 3 visits (p1 twice, 20 min apart), 2 visitors, (120+60+60)/3 s; a
	// tracked share.
	eq("prelive audience", pre.Audience, VisitorAudience{TotalVisitors: 3, UniqueVisitors: 2, AverageSessionSeconds: 80, Shares: 1})
	// w1, w2, w1 shown; w1 clicked: 1 of 2.
	eq("prelive product widget", pre.ProductWidget, WidgetStats{TotalViews: 3, UniqueViews: 2, Clicks: 1, ClickRate: 50})
	// 30+20+10 s by 2 visitors.
	eq("teaser", pre.TeasingVideo, TeaserStats{TotalWatch: 3, UniqueWatch: 2, AverageWatchSeconds: 30})
	eq("prelive devices", pre.Devices, DeviceShare{Desktop: 50, Mobile: 50, DesktopCount: 1, MobileCount: 1})
	eq("prelive sources", pre.TrafficSources, []SourceShare{{"google.com", 1, 50}, {"newsletter", 1, 50}})
	// w1, w2 (product) and w3 (gallery); p1, p2 opened; both validated.
	eq("alerting funnel", pre.AlertingFunnel, AlertingFunnel{AudienceReach: 3, UniqueViewers: 2, AlertingModal: 2, AlertingValidation: 2})
	// 2 reminders, 1 opt-in; 1 calendar; of 2 visitors.
	eq("alerting", pre.Alerting, AlertingStats{SMSAlerts: 2, CalendarAlerts: 1, CommercialOptIn: 1, SMSAlertingRate: 100,
		CalendarAlertingRate: 50, RetargetingRate: 50})
	eq("prelive products", pre.Products, []ProductClicks{{ProductID: A, Name: "Bag", Clicks: 1}})
	if len(pre.Evolution.Viewers) != 60 || pre.Evolution.Viewers[10].Value != 1 || pre.Evolution.Viewers[11].Value != 1 ||
		pre.Evolution.Viewers[12].Value != 1 || pre.Evolution.Viewers[13].Value != 0 || pre.Evolution.Viewers[20].Value != 1 {
		t.Errorf("prelive viewers series: %+v", pre.Evolution.Viewers[8:22])
	}
	if pre.Evolution.SMSSubscriptions[11].Value != 1 || pre.Evolution.SMSSubscriptions[25].Value != 1 ||
		pre.Evolution.CalendarSubscriptions[20].Value != 1 {
		t.Errorf("prelive subscriptions series: %+v / %+v", pre.Evolution.SMSSubscriptions, pre.Evolution.CalendarSubscriptions)
	}

	live := rep.Live
	// m1, m3 messages; m2 question; m4 answer; 5+3 likes; v2's share.
	// Interacting: v1 (chat, clicks...), v2 (chat, click, share): 2 of 3.
	eq("live general", live.General, LiveGeneral{DurationSeconds: 3600, Messages: 2, Questions: 1, BrandAnswers: 1, Likes: 8,
		Shares: 1, ViewerEngagementRate: 66.67, ChatParticipationRate: 66.67, ChatQuestionRate: 33.33})
	// v1 11:00-11:30 (its WHEP session inside), v2 11:10-11:20, the HLS
	// viewer 11:15-11:45: 3 at 11:15; (1800+600+1800)/3600; 4200/3.
	eq("live audience", live.Audience, ViewerAudience{TotalViewers: 3, UniqueViewers: 3, MaxViewers: 3, AverageViewers: 1.17,
		AverageSessionSeconds: 1400, Shares: 1})
	eq("live product widget", live.ProductWidget, WidgetStats{TotalViews: 1, UniqueViews: 1})
	eq("floating player", live.FloatingPlayerWidget, WidgetStats{TotalViews: 1, UniqueViews: 1, Clicks: 1, ClickRate: 100})
	eq("live devices", live.Devices, DeviceShare{Desktop: 33.33, Tablet: 33.33, Other: 33.33, DesktopCount: 1, TabletCount: 1, OtherCount: 1})
	eq("conversion", live.ConversionFunnel, ConversionFunnel{AudienceReach: 1, UniqueViewers: 3, Purchases: 2})
	// Orders A-1 and B-1 were reported during the live: two purchases.
	// A-1, tracked by v1 too, is one purchase, v1's: 1 buyer of 3. B-1
	// names no viewer: counted, attributed to none. A was pinned: A-1's
	// 2 x 129.00 are product sales; C was not: B-1's 50.00 are other sales.
	eq("live business", live.Business, Business{CatalogOpened: 1, ProductClicks: 3, ViewersProductClicks: 2, ProductClicksRate: 66.67,
		AddToCart: 1, CartsCreated: 2, CartsCreatedRate: 66.67, TotalCarts: "297.00", AverageCart: "148.50", MaximumCart: "258.00",
		MinimumCart: "39.00", Purchases: 2, PurchasesRate: 33.33, TotalSales: "308.00", ProductSales: "258.00", OtherSales: "50.00",
		AveragePurchase: "154.00", MaximumPurchase: "258.00", MinimumPurchase: "50.00"})
	byID := map[string]ProductStats{}
	for _, p := range live.Products {
		byID[p.ProductID] = p
	}
	eq("live product A", byID[A], ProductStats{ProductID: A, Name: "Bag", Shown: true, Clicks: 2, Purchases: 1, Quantity: 2, Sales: "258.00"})
	eq("live product B", byID[B], ProductStats{ProductID: B, Name: "Scarf", Shown: true, Clicks: 1, Sales: "0.00"})
	eq("live product C", byID[C], ProductStats{ProductID: C, Name: "Belt", Purchases: 1, Quantity: 1, Sales: "50.00"})
	if live.Products[0].ProductID != A {
		t.Errorf("most clicked first: %+v", live.Products)
	}
	// v1 5 (its second answer ignored), v2 3.
	eq("satisfaction", live.Satisfaction, Satisfaction{AudienceReach: 2, Attendees: 2, AverageRating: 4, Comments: 1, ResponseRate: 100,
		Distribution: [5]int64{0, 0, 1, 0, 1}, DistributionPercent: [5]float64{0, 0, 50, 0, 50}})
	if v := live.Evolution.Viewers; len(v) != 60 || v[0].Value != 1 || v[15].Value != 3 || v[40].Value != 1 || v[46].Value != 0 {
		t.Errorf("live viewers series: %+v", v)
	}
	if p := live.Evolution.Purchases; p[20].Value != 1 || p[40].Value != 1 || sumPoints(p) != 2 {
		t.Errorf("live purchases series: %+v", p)
	}
	if c := live.Evolution.ProductClicks; c[5].Value != 1 || c[6].Value != 1 || c[12].Value != 1 || sumPoints(c) != 3 {
		t.Errorf("live clicks series: %+v", c)
	}

	rp := rep.Replay
	eq("replay window", rp.Window, Window{From: at(120, 0), To: at(180, 0)})
	// v3 alone, 10 min of the hour.
	eq("replay audience", rp.Audience, ViewerAudience{TotalViewers: 1, UniqueViewers: 1, MaxViewers: 1, AverageViewers: 0.17,
		AverageSessionSeconds: 600, Shares: 1})
	// 20.00 for a scarf (39.00, shown during the live): all product sales.
	eq("replay business", rp.Business, Business{ProductClicks: 1, ViewersProductClicks: 1, ProductClicksRate: 100,
		TotalCarts: "0.00", AverageCart: "0.00", MaximumCart: "0.00", MinimumCart: "0.00", Purchases: 1, PurchasesRate: 100,
		TotalSales: "20.00", ProductSales: "20.00", OtherSales: "0.00", AveragePurchase: "20.00", MaximumPurchase: "20.00",
		MinimumPurchase: "20.00"})
	eq("replay sources", rp.TrafficSources, []SourceShare{{"google.com", 1, 100}})

	// Poll: v1's second vote ignored; 1 each.
	eq("polls", rep.Interactions.Polls, []PollStats{{ID: "poll1", Question: "Colour?", OpenedAt: at(75, 0), Closed: true, Votes: 2,
		Options: []PollOption{{"Red", 1, 50}, {"Blue", 1, 50}}}})
	eq("instant wins", rep.Interactions.InstantWins, []InstantWinStats{{ID: "iw1", Prize: "Bag", OpenedAt: at(77, 0), Planned: 1,
		Entrants: 2, Drawn: true, Winners: []DrawnWinnerView{{"v2", "Val"}}}})
}

// TestComputeRange: a time range narrows prelive and replay, not live.
func TestComputeRange(t *testing.T) {
	s := buildScript(t)
	from, to := at(15, 0), at(155, 0)
	rep, err := Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0), From: &from, To: &to})
	if err != nil {
		t.Fatal(err)
	}
	// sp1 (10:10-10:12) is before the range: sp2 and sp3 remain.
	if a := rep.Prelive.Audience; a.TotalVisitors != 2 || a.UniqueVisitors != 2 || a.AverageSessionSeconds != 60 {
		t.Errorf("prelive from 10:15: %+v", a)
	}
	if rep.Prelive.Alerting.SMSAlerts != 1 {
		t.Errorf("SMS alerts from 10:15: %+v", rep.Prelive.Alerting)
	}
	if rep.Live.Audience.TotalViewers != 3 {
		t.Errorf("the live is whole: %+v", rep.Live.Audience)
	}
	// v3's events in the replay's [12:00, 12:35) run from 12:30:00 to its
	// heartbeat at 12:34:30; its purchase at 12:35 is out.
	if a, b := rep.Replay.Audience, rep.Replay.Business; a.AverageSessionSeconds != 270 || b.Purchases != 0 || b.ProductClicks != 1 {
		t.Errorf("replay to 12:35: %+v %+v", a, b)
	}
	// One phase only.
	rep, err = Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0), Phase: Live, Bucket: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prelive != nil || rep.Replay != nil || rep.Live == nil || len(rep.Live.Evolution.Viewers) != 6 {
		t.Errorf("phase live, 10 min buckets: %+v", rep)
	}
	if _, err := Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0), Bucket: time.Second}); err == nil {
		t.Error("1 s buckets over hours: no error")
	}
}

func sumPoints(ps []Point) int64 {
	var n int64
	for _, p := range ps {
		n += p.Value
	}
	return n
}

// TestSourcePerPhase: a viewer's traffic source and device are those of
// the phase: a visitor of the prelive who comes back to the replay from
// a newsletter came from the newsletter that time; a viewer whose WHEP
// session reached the server before their page's first batch gets the
// page's origin and device, not the server's none.
func TestSourcePerPhase(t *testing.T) {
	s := newScript(t)
	s.span("a", "sa1", at(10, 0), at(11, 0), Desktop, "google.com")
	s.log(events.TypeStreamLive, at(60, 0), events.StreamLive{})
	s.ev(TypeWHEPStart, at(70, 0), "b", "whep-b", with(func(e *store.TrackedEvent) { e.Device, e.Source = Other, "" }))
	s.span("b", "sb", at(70, 1), at(75, 0), Mobile, "instagram.com")
	s.ev(TypeWHEPEnd, at(75, 0), "b", "whep-b", with(func(e *store.TrackedEvent) { e.Device, e.Source = Other, "" }))
	// c: only over HLS in the live, from its prelive page before.
	s.span("c", "sc1", at(20, 0), at(21, 0), Tablet, "newsletter")
	s.ev(TypeHLSStart, at(80, 0), "c", "hls-c", with(func(e *store.TrackedEvent) { e.Device, e.Source = Other, "" }))
	s.ev(TypeHLSEnd, at(85, 0), "c", "hls-c", with(func(e *store.TrackedEvent) { e.Device, e.Source = Other, "" }))
	s.log(events.TypeStreamEnded, at(120, 0), events.StreamEnded{})
	s.span("a", "sa2", at(130, 0), at(131, 0), Mobile, "newsletter")
	if _, err := s.st.InsertTrackedEvents(t.Context(), s.tracked); err != nil {
		t.Fatal(err)
	}
	rep, err := Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0)})
	if err != nil {
		t.Fatal(err)
	}
	eq := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	eq("prelive sources", rep.Prelive.TrafficSources, []SourceShare{{"google.com", 1, 50}, {"newsletter", 1, 50}})
	eq("live sources", rep.Live.TrafficSources, []SourceShare{{"instagram.com", 1, 50}, {"newsletter", 1, 50}})
	eq("live devices", rep.Live.Devices, DeviceShare{Mobile: 50, Tablet: 50, MobileCount: 1, TabletCount: 1})
	eq("replay sources", rep.Replay.TrafficSources, []SourceShare{{"newsletter", 1, 100}})
	eq("replay devices", rep.Replay.Devices, DeviceShare{Mobile: 100, MobileCount: 1})
}

// TestPurchasesRule: what counts as a purchase of a phase. Every order
// the shop reported during the phase counts, whoever made it; an order and
// a purchase beacon with its code are one purchase; a purchase only
// tracked counts when its viewer watched the phase (a purchase on the
// seller's site by someone who never watched is not the event's, nor is
// a viewer of the live's purchase during the replay it did not watch).
// Orders name their buyer by viewer_id or session_id, for the rates.
func TestPurchasesRule(t *testing.T) {
	s := newScript(t)
	A, B, C := s.product(0), s.product(1), s.product(2)
	money := func(e4 int64, data string) func(*store.TrackedEvent) {
		return func(e *store.TrackedEvent) { e.AmountE4, e.Currency, e.Data = e4, "EUR", data }
	}
	s.log(events.TypeStreamLive, at(60, 0), events.StreamLive{})
	s.log(events.TypeProductPinned, at(61, 0), events.ProductPinned{Product: events.ProductRef{ID: A}})
	s.span("v1", "s1", at(60, 0), at(70, 0), Desktop, Direct)
	s.span("v2", "s2", at(60, 0), at(70, 0), Desktop, Direct)
	s.span("v3", "s3", at(60, 0), at(70, 0), Desktop, Direct)
	s.span("v4", "s4", at(60, 0), at(70, 0), Desktop, Direct)
	// v1 buys A-1, which the shop reports too: one purchase.
	s.ev(TypePurchase, at(65, 0), "v1", "s1", money(1290000, `{"order_id":"A-1","product_ids":["`+A+`"]}`))
	// w9 never watched: a purchase on the seller's site, not the live's.
	s.ev(TypePurchase, at(66, 0), "w9", "", money(500000, `{"product_ids":["`+C+`"]}`))
	s.log(events.TypeStreamEnded, at(120, 0), events.StreamEnded{})
	// v2 did not watch the replay: its tracked purchase then is not the
	// replay's.
	s.ev(TypePurchase, at(130, 0), "v2", "", money(500000, `{"product_ids":["`+C+`"]}`))
	s.st.orders = []store.Order{
		{ID: "o1", Code: "A-1", Items: []store.OrderItem{{ProductID: A, Quantity: 1}}, Total: "129.00", Currency: "EUR", CreatedAt: at(65, 5)},
		// Reported by the shop, tracked by no viewer, naming none: a
		// purchase of the live, nobody's.
		{ID: "o2", Code: "Z-9", Items: []store.OrderItem{{ProductID: C, Quantity: 1}}, Total: "50.00", Currency: "EUR", CreatedAt: at(67, 0)},
		// v2's, by its viewer id; v3's, by its session id.
		{ID: "o3", Code: "B-1", ViewerID: "v2", Items: []store.OrderItem{{ProductID: B, Quantity: 1}}, Total: "39.00", Currency: "EUR", CreatedAt: at(68, 0)},
		{ID: "o4", Code: "B-2", SessionID: "s3", Items: []store.OrderItem{{ProductID: B, Quantity: 2}}, Total: "78.00", Currency: "EUR", CreatedAt: at(69, 0)},
		// In another currency: a purchase, left out of the amounts.
		{ID: "o5", Code: "U-1", Items: []store.OrderItem{{ProductID: B, Quantity: 1}}, Total: "45.00", Currency: "USD", CreatedAt: at(69, 30)},
		// Reported after the end: the replay's, though no viewer of the
		// replay made it.
		{ID: "o6", Code: "R-1", ViewerID: "v1", Items: []store.OrderItem{{ProductID: A, Quantity: 1}}, Total: "129.00", Currency: "EUR", CreatedAt: at(140, 0)},
	}
	if _, err := s.st.InsertTrackedEvents(t.Context(), s.tracked); err != nil {
		t.Fatal(err)
	}
	rep, err := Compute(t.Context(), s.st, s.st.c.ID, Options{Now: at(180, 0)})
	if err != nil {
		t.Fatal(err)
	}
	eq := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	live, replay := rep.Live, rep.Replay
	eq("live business", live.Business, Business{TotalCarts: "0.00", AverageCart: "0.00", MaximumCart: "0.00", MinimumCart: "0.00",
		Purchases:     5,  // A-1 (once), Z-9, B-1, B-2, U-1; not w9's
		PurchasesRate: 75, // v1 (A-1's beacon), v2 (viewer_id), v3 (session_id) of v1-v4
		// 129 + 50 + 39 + 78 in EUR (U-1 is USD); A pinned: A-1's 129.
		TotalSales: "296.00", ProductSales: "129.00", OtherSales: "167.00",
		AveragePurchase: "74.00", MaximumPurchase: "129.00", MinimumPurchase: "39.00"})
	if live.ConversionFunnel.Purchases != 5 || sumPoints(live.Evolution.Purchases) != 5 {
		t.Errorf("live funnel %+v, purchases series %+v", live.ConversionFunnel, live.Evolution.Purchases)
	}
	// Buyers who watched interacted: v1, v2, v3 of four.
	if r := live.General.ViewerEngagementRate; r != 75 {
		t.Errorf("engagement rate %v, want 75", r)
	}
	byID := map[string]ProductStats{}
	for _, p := range live.Products {
		byID[p.ProductID] = p
	}
	eq("live A", byID[A], ProductStats{ProductID: A, Name: "Bag", Shown: true, Purchases: 1, Quantity: 1, Sales: "129.00"})
	// B-1, B-2 and U-1, whose USD is left out of the sales: 3 x 39.00.
	eq("live B", byID[B], ProductStats{ProductID: B, Name: "Scarf", Purchases: 3, Quantity: 4, Sales: "117.00"})
	eq("live C", byID[C], ProductStats{ProductID: C, Name: "Belt", Purchases: 1, Quantity: 1, Sales: "50.00"}) // Z-9, not w9's
	// The replay: R-1 only (v2's tracked purchase is not the replay's).
	eq("replay business", replay.Business, Business{TotalCarts: "0.00", AverageCart: "0.00", MaximumCart: "0.00", MinimumCart: "0.00",
		Purchases: 1, TotalSales: "129.00", ProductSales: "129.00", OtherSales: "0.00",
		AveragePurchase: "129.00", MaximumPurchase: "129.00", MinimumPurchase: "129.00"})
}
