package analytics

import (
	"math"
	"time"
)

// The report's types document every metric in their doc tags: the API
// derives its OpenAPI document from them, so the definitions there are
// the ones the code computes. Rates are percentages from 0 to 100 with
// two decimals (0 when their denominator is 0); amounts are decimal
// strings in Report.Currency; durations are seconds.

// Report is every metric of a campaign.
type Report struct {
	CampaignID  string    `json:"campaign_id"`
	GeneratedAt time.Time `json:"generated_at"`
	Currency    string    `json:"currency" doc:"ISO 4217 currency of every amount: the campaign's products' currency (an order in another is refused when they have one; the first product's when they have several), else the most frequent among its purchases. Purchases and carts in another currency are counted but left out of amounts: nothing is converted."`
	// Range is the time range asked for, applied to prelive and replay.
	From *time.Time `json:"from" doc:"start of the time range applied to prelive and replay; null: from the campaign's creation"`
	To   *time.Time `json:"to" doc:"end of the time range applied to prelive and replay; null: until now"`
	// Boundaries of the phases.
	WentLiveAt    *time.Time      `json:"went_live_at" doc:"the first go-live (first stream.live event): prelive ends and live begins. Null: never live, everything is prelive."`
	EndedAt       *time.Time      `json:"ended_at" doc:"the end of the live (last stream.ended): live ends and replay begins. Null while live, or never live."`
	BucketSeconds int64           `json:"bucket_seconds" doc:"size of the evolution buckets"`
	Prelive       *PreliveMetrics `json:"prelive,omitempty" doc:"before the first go-live (absent when another phase was asked for)"`
	Live          *LiveMetrics    `json:"live,omitempty" doc:"from the first go-live to the end (absent when another phase was asked for or never live)"`
	Replay        *ReplayMetrics  `json:"replay,omitempty" doc:"after the end of the live (absent when another phase was asked for or not ended)"`
	Interactions  Interactions    `json:"interactions" doc:"the interactions offered during the event, whole campaign (the time range does not apply)"`
}

// PreliveMetrics are the prelive's metrics.
type PreliveMetrics struct {
	Window         Window           `json:"window"`
	Audience       VisitorAudience  `json:"audience"`
	Evolution      PreliveEvolution `json:"evolution"`
	ProductWidget  WidgetStats      `json:"product_widget" doc:"the product widget on the seller's site"`
	TeasingVideo   TeaserStats      `json:"teasing_video"`
	Devices        DeviceShare      `json:"devices" doc:"devices of the prelive's unique visitors"`
	TrafficSources []SourceShare    `json:"traffic_sources" doc:"distribution of the prelive's unique visitors by origin, most first"`
	AlertingFunnel AlertingFunnel   `json:"alerting_funnel"`
	Alerting       AlertingStats    `json:"alerting"`
	Products       []ProductClicks  `json:"products" doc:"clicks on each product presented on the prelive page, most clicked first"`
}

// LiveMetrics are the live's metrics.
type LiveMetrics struct {
	Window               Window           `json:"window"`
	General              LiveGeneral      `json:"general"`
	Audience             ViewerAudience   `json:"audience"`
	Evolution            ViewerEvolution  `json:"evolution"`
	ProductWidget        WidgetStats      `json:"product_widget" doc:"the product widget on the seller's site"`
	FloatingPlayerWidget WidgetStats      `json:"floating_player_widget" doc:"the floating player widget on the seller's site"`
	Devices              DeviceShare      `json:"devices" doc:"devices of the live's unique viewers"`
	TrafficSources       []SourceShare    `json:"traffic_sources" doc:"distribution of the live's unique viewers by origin, most first"`
	ConversionFunnel     ConversionFunnel `json:"conversion_funnel"`
	Business             Business         `json:"business"`
	Products             []ProductStats   `json:"products" doc:"clicks, purchases and sales of each product during the live, most clicked first"`
	Satisfaction         Satisfaction     `json:"satisfaction"`
}

// ReplayMetrics are the replay's metrics.
type ReplayMetrics struct {
	Window           Window           `json:"window"`
	Audience         ViewerAudience   `json:"audience"`
	Evolution        ViewerEvolution  `json:"evolution"`
	ProductWidget    WidgetStats      `json:"product_widget" doc:"the product widget on the seller's site"`
	Devices          DeviceShare      `json:"devices" doc:"devices of the replay's unique viewers"`
	TrafficSources   []SourceShare    `json:"traffic_sources" doc:"distribution of the replay's unique viewers by origin, most first"`
	ConversionFunnel ConversionFunnel `json:"conversion_funnel"`
	Business         Business         `json:"business"`
	Products         []ProductStats   `json:"products" doc:"clicks, purchases and sales of each product during the replay, most clicked first"`
}

// VisitorAudience is the prelive's audience. A visit is a viewer's
// continuous presence on the event's page: the page's session events
// (page.view, session start, heartbeats, end, and any other event sent
// with the session id) from first to last, with the visits of one viewer
// less than a minute apart merged into one.
type VisitorAudience struct {
	TotalVisitors         int64   `json:"total_visitors" doc:"Total visitors: number of visits to the prelive page (a visitor who comes back counts again)"`
	UniqueVisitors        int64   `json:"unique_visitors" doc:"Unique visitors: number of distinct visitors of the prelive page"`
	AverageSessionSeconds float64 `json:"average_session_seconds" doc:"Average session: mean duration of a visit of the prelive page"`
	Shares                int64   `json:"shares" doc:"Shares: number of times the prelive was shared (share events of the data channel and of tracking)"`
}

// ViewerAudience is the live's or replay's audience. A view is a viewer's
// continuous watching: the player page's session events, the WHEP
// sessions and the HLS sessions the server saw, the spans of one viewer
// less than a minute apart merged (a viewer on the player page over WHEP
// is one viewer, not two).
type ViewerAudience struct {
	TotalViewers          int64   `json:"total_viewers" doc:"Total viewers: number of views (a viewer who leaves and comes back counts again)"`
	UniqueViewers         int64   `json:"unique_viewers" doc:"Unique viewers: number of distinct viewers who watched"`
	MaxViewers            int64   `json:"max_viewers" doc:"Max viewers: the peak of viewers watching at the same moment"`
	AverageViewers        float64 `json:"average_viewers" doc:"Average viewers: viewers watching at the same time, averaged over the phase's window (total watching time divided by the window's duration)"`
	AverageSessionSeconds float64 `json:"average_session_seconds" doc:"Average session: mean duration of a view"`
	Shares                int64   `json:"shares" doc:"Shares: number of times the event was shared during the phase"`
}

// Point is one bucket of a time series.
type Point struct {
	At    time.Time `json:"at" doc:"start of the bucket"`
	Value int64     `json:"value"`
}

// PreliveEvolution is the prelive's time series.
type PreliveEvolution struct {
	Viewers               []Point `json:"viewers" doc:"distinct visitors present on the prelive page during each bucket"`
	SMSSubscriptions      []Point `json:"sms_subscriptions" doc:"SMS reminders created during each bucket"`
	CalendarSubscriptions []Point `json:"calendar_subscriptions" doc:"calendar subscriptions (alert.subscribe with channel calendar) during each bucket"`
}

// ViewerEvolution is the live's or replay's time series.
type ViewerEvolution struct {
	Viewers       []Point `json:"viewers" doc:"distinct viewers watching during each bucket"`
	ProductClicks []Point `json:"product_clicks" doc:"product clicks during each bucket"`
	Purchases     []Point `json:"purchases" doc:"purchases during each bucket, as business.purchases counts them: the orders reported then, and the purchases tracked then by viewers of the phase"`
}

// WidgetStats is one widget's views and clicks on the seller's site.
type WidgetStats struct {
	TotalViews  int64   `json:"total_views" doc:"Total views: times the widget was shown to a visitor"`
	UniqueViews int64   `json:"unique_views" doc:"Unique views: distinct visitors the widget was shown to"`
	Clicks      int64   `json:"clicks" doc:"Widget clicks: number of clicks on the widget"`
	ClickRate   float64 `json:"click_rate" doc:"Widget click rate: distinct visitors who clicked the widget, in percent of its unique views"`
}

// TeaserStats is the prelive's teasing video.
type TeaserStats struct {
	TotalWatch          int64   `json:"total_watch" doc:"Total watch: number of times the teasing video was watched"`
	UniqueWatch         int64   `json:"unique_watch" doc:"Unique watch: distinct visitors who watched the teasing video"`
	AverageWatchSeconds float64 `json:"average_watch_seconds" doc:"Average watch time: time spent on the teasing video per visitor who watched it"`
}

// DeviceShare is the split of a phase's unique viewers by device, from
// the User-Agent of each viewer's first page or widget event of the
// phase (else of the WHEP or HLS session the server saw, else of the
// viewer's first page in another phase).
type DeviceShare struct {
	Desktop      float64 `json:"desktop" doc:"Desktop: percent of unique viewers on a desktop or laptop computer"`
	Mobile       float64 `json:"mobile" doc:"Mobile: percent of unique viewers on a phone"`
	Tablet       float64 `json:"tablet" doc:"Tablet: percent of unique viewers on a tablet"`
	Other        float64 `json:"other" doc:"percent of unique viewers on anything else (TV, players and tools reading HLS, unknown)"`
	DesktopCount int64   `json:"desktop_count"`
	MobileCount  int64   `json:"mobile_count"`
	TabletCount  int64   `json:"tablet_count"`
	OtherCount   int64   `json:"other_count"`
}

// SourceShare is one traffic source.
type SourceShare struct {
	Source   string  `json:"source" doc:"the utm_source of the viewer's first page, else the referrer's host without www., else direct"`
	Visitors int64   `json:"visitors" doc:"unique viewers of the phase whose first page or widget view of the phase came from it (a viewer seen only over WHEP or HLS in the phase: their origin in another phase)"`
	Percent  float64 `json:"percent" doc:"percent of the phase's unique viewers"`
}

// AlertingFunnel is the prelive's way to an alert subscription.
type AlertingFunnel struct {
	AudienceReach      int64 `json:"audience_reach" doc:"Audience reach: distinct visitors who saw the event in the product widget or the gallery widget"`
	UniqueViewers      int64 `json:"unique_viewers" doc:"Unique viewers: distinct visitors who opened the prelive page"`
	AlertingModal      int64 `json:"alerting_modal" doc:"Alerting modal: distinct visitors who clicked the call to action to be alerted by SMS or calendar"`
	AlertingValidation int64 `json:"alerting_validation" doc:"Alerting validation: distinct visitors who completed an SMS or calendar alert"`
}

// AlertingStats are the prelive's subscriptions.
type AlertingStats struct {
	SMSAlerts            int64   `json:"sms_alerts" doc:"SMS alerts: SMS reminders created during the prelive (one per phone)"`
	CalendarAlerts       int64   `json:"calendar_alerts" doc:"Calendar alerts: distinct visitors who subscribed with their calendar"`
	CommercialOptIn      int64   `json:"commercial_opt_in" doc:"Commercial opt-in: SMS subscribers who accepted the commercial use of their phone number"`
	SMSAlertingRate      float64 `json:"sms_alerting_rate" doc:"SMS alerting rate: SMS alerts in percent of the prelive's unique visitors"`
	CalendarAlertingRate float64 `json:"calendar_alerting_rate" doc:"Calendar alerting rate: calendar alerts in percent of the prelive's unique visitors"`
	RetargetingRate      float64 `json:"retargeting_rate" doc:"Retargeting rate: commercial opt-ins in percent of SMS alerts"`
}

// ProductClicks is one product's clicks.
type ProductClicks struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name" doc:"the product's name in the catalog (empty if it was deleted)"`
	Clicks    int64  `json:"clicks" doc:"clicks on the product"`
}

// LiveGeneral is the live's summary.
type LiveGeneral struct {
	DurationSeconds       float64 `json:"duration_seconds" doc:"Live duration: from the first go-live to the end (to now while live)"`
	Messages              int64   `json:"messages" doc:"Messages: chat messages sent by viewers during the live"`
	Questions             int64   `json:"questions" doc:"Questions: questions sent by viewers during the live"`
	BrandAnswers          int64   `json:"brand_answers" doc:"Brand answers: answers the brand sent on the chat during the live"`
	Likes                 int64   `json:"likes" doc:"Likes: like taps during the live"`
	Shares                int64   `json:"shares" doc:"Shares: times the live was shared during the live"`
	ViewerEngagementRate  float64 `json:"viewer_engagement_rate" doc:"Viewer engagement rate: unique viewers who interacted (chat message or question, like, product click, catalog, add to cart, cart, purchase — tracked, or an order attributed to them —, share, poll vote, instant win entry, survey answer), in percent of unique viewers"`
	ChatParticipationRate float64 `json:"chat_participation_rate" doc:"Chat participation rate: unique viewers who sent a chat message or question, in percent of unique viewers"`
	ChatQuestionRate      float64 `json:"chat_question_rate" doc:"Chat question rate: unique viewers who asked a question, in percent of unique viewers"`
}

// ConversionFunnel is the way from seeing the event to buying.
type ConversionFunnel struct {
	AudienceReach int64 `json:"audience_reach" doc:"Audience reach: distinct visitors who saw the event in the product widget or the gallery widget during the phase"`
	UniqueViewers int64 `json:"unique_viewers" doc:"Unique viewers: distinct viewers who opened the event's player and watched"`
	Purchases     int64 `json:"purchases" doc:"Purchases: the phase's purchases (as business.purchases): the orders the shop reported during it, and the purchases its viewers tracked"`
}

// Business is what viewers did with the products.
type Business struct {
	CatalogOpened        int64   `json:"catalog_opened" doc:"Catalog opened: clicks that opened the product catalog"`
	ProductClicks        int64   `json:"product_clicks" doc:"Product clicks: clicks on products"`
	ViewersProductClicks int64   `json:"viewers_product_clicks" doc:"Viewers product clicks: distinct viewers who clicked at least one product"`
	ProductClicksRate    float64 `json:"product_clicks_rate" doc:"Product clicks rate: unique viewers who clicked at least one product, in percent of unique viewers"`
	AddToCart            int64   `json:"add_to_cart" doc:"Add to cart: products added to a cart (events, whatever the quantity)"`
	CartsCreated         int64   `json:"carts_created" doc:"Carts created: carts created"`
	CartsCreatedRate     float64 `json:"carts_created_rate" doc:"Carts created rate: unique viewers who created a cart, in percent of unique viewers"`
	TotalCarts           string  `json:"total_carts" doc:"Total carts amount: sum of the amounts of the carts created"`
	AverageCart          string  `json:"average_cart" doc:"Average cart: mean amount of a cart created"`
	MaximumCart          string  `json:"maximum_cart" doc:"Maximum cart: highest cart amount"`
	MinimumCart          string  `json:"minimum_cart" doc:"Minimum cart: lowest cart amount"`
	Purchases            int64   `json:"purchases" doc:"Purchases: the phase's purchases, by their time: every order the shop reported during the phase (POST /api/v1/campaigns/{id}/orders: a shop reports an order to a campaign because it came from it), whether or not it names its viewer, and every purchase a viewer who watched the phase tracked (a purchase beacon) that no reported order matches. An order and a purchase beacon whose order_id is the order's code are one purchase, counted once. A purchase beacon from someone who never watched the phase is a purchase on the seller's site, not the event's."`
	PurchasesRate        float64 `json:"purchases_rate" doc:"Purchases rate: unique viewers who made at least one of the phase's purchases, in percent of unique viewers. A purchase's buyer is the order's viewer_id, else the viewer of its session_id, else the viewer whose purchase beacon carries its code; an order attributed to no viewer counts in the purchases and sales, not in this rate."`
	TotalSales           string  `json:"total_sales" doc:"Total sales: sum of the amounts of the phase's purchases (an order's total, a beacon's amount) in the report's currency"`
	ProductSales         string  `json:"product_sales" doc:"Product sales: the part of the total sales spent on products displayed during the phase — the products pinned on the video during the live; the replay plays those pins back, so for the replay too — at their catalog price times the quantity bought, at most each purchase's amount"`
	OtherSales           string  `json:"other_sales" doc:"Other sales: the rest of the total sales: products not displayed during the phase, and what an order adds (shipping, fees)"`
	AveragePurchase      string  `json:"average_purchase" doc:"Average purchase: total sales divided by the number of the phase's purchases in the report's currency"`
	MaximumPurchase      string  `json:"maximum_purchase" doc:"Maximum purchase: highest amount of the phase's purchases"`
	MinimumPurchase      string  `json:"minimum_purchase" doc:"Minimum purchase: lowest amount of the phase's purchases"`
}

// ProductStats is one product's clicks, purchases and sales in a phase.
type ProductStats struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name" doc:"the product's name in the catalog (empty if it was deleted)"`
	Shown     bool   `json:"shown" doc:"displayed during the phase: pinned on the video during the live (the replay plays those pins back)"`
	Clicks    int64  `json:"clicks" doc:"clicks on the product"`
	Purchases int64  `json:"purchases" doc:"the phase's purchases (as business.purchases: orders reported during it, once each) that include the product"`
	Quantity  int64  `json:"quantity" doc:"units of it in those purchases"`
	Sales     string `json:"sales" doc:"its catalog price times the units purchased, in the report's currency (a purchase in another currency counts in purchases and quantity, not here)"`
}

// Satisfaction is the survey shown to viewers leaving the live. It
// counts every answer of the campaign: a viewer may answer just after the
// end.
type Satisfaction struct {
	AudienceReach       int64      `json:"audience_reach" doc:"Audience reach: distinct viewers the satisfaction survey was shown to (survey.view), or who answered it"`
	Attendees           int64      `json:"attendees" doc:"Attendees: distinct viewers who answered the survey (a viewer's first answer counts)"`
	AverageRating       float64    `json:"average_rating" doc:"Viewers satisfaction: mean rating, from 1 to 5, two decimals"`
	Comments            int64      `json:"comments" doc:"Comments: answers with a written comment"`
	ResponseRate        float64    `json:"response_rate" doc:"Response rate: attendees in percent of the audience reach"`
	Distribution        [5]int64   `json:"distribution" doc:"number of answers rating 1, 2, 3, 4 and 5"`
	DistributionPercent [5]float64 `json:"distribution_percent" doc:"the same in percent of attendees"`
}

// Interactions are the polls and instant wins of the campaign.
type Interactions struct {
	Polls       []PollStats       `json:"polls"`
	InstantWins []InstantWinStats `json:"instant_wins"`
}

// PollStats is one poll and its results.
type PollStats struct {
	ID       string       `json:"id"`
	Question string       `json:"question"`
	OpenedAt time.Time    `json:"opened_at"`
	Closed   bool         `json:"closed"`
	Options  []PollOption `json:"options"`
	Votes    int64        `json:"votes" doc:"votes cast (one per viewer)"`
}

// PollOption is one answer of a poll.
type PollOption struct {
	Text    string  `json:"text"`
	Votes   int64   `json:"votes"`
	Percent float64 `json:"percent" doc:"percent of the poll's votes"`
}

// InstantWinStats is one instant win.
type InstantWinStats struct {
	ID       string            `json:"id"`
	Prize    string            `json:"prize"`
	OpenedAt time.Time         `json:"opened_at"`
	Planned  int               `json:"planned_winners" doc:"winners to draw"`
	Entrants int64             `json:"entrants" doc:"distinct viewers who entered"`
	Drawn    bool              `json:"drawn"`
	Winners  []DrawnWinnerView `json:"winners"`
}

// DrawnWinnerView is a drawn viewer.
type DrawnWinnerView struct {
	ViewerID string `json:"viewer_id"`
	Name     string `json:"name"`
}

// pct is n in percent of d, two decimals; 0 when d is 0.
func pct(n, d int64) float64 {
	if d <= 0 {
		return 0
	}
	return round2(100 * float64(min(n, d)) / float64(d))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
