package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"vitrine/store"
)

// What counts as a sale (the rule the metrics' definitions and the README
// state):
//
//   - Every order the shop reports (POST /api/v1/campaigns/{id}/orders) is
//     a purchase of the phase it was reported in, by its time: the shop
//     posts an order to a campaign because it came from that campaign.
//     Its total is its amount, its items the products bought.
//   - A purchase a viewer's page or the seller's site tracked (a purchase
//     beacon) whose order_id is the code of a reported order is that
//     order: one purchase, the order's.
//   - A purchase beacon no reported order matches is a purchase of the
//     phase it was tracked in when its viewer watched that phase (the seed's
//     "done by viewers who watched"); else it is someone's purchase on the
//     seller's site, not the event's.
//
// A purchase's buyer is the order's viewer_id, else the viewer of its
// session_id, else the viewer of the beacon that carries its code; the
// per-viewer rates count the buyers among the phase's viewers.

// purchase is one purchase: an order the shop reported, or a purchase a
// player tracked whose order code the shop did not report.
type purchase struct {
	at time.Time
	// viewer is the buyer; "" for an order attributed to no viewer.
	viewer string
	// order: reported by the shop, counted whoever made it; else a
	// tracked purchase, counted when its viewer watched.
	order    bool
	amount   int64 // e4
	currency string
	lines    []store.OrderItem
}

// amounts accumulates money in the report's currency.
type amounts struct {
	n, sum, min, max int64
}

func (a *amounts) add(v int64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.n++
	a.sum += v
}

func (a amounts) avg() int64 {
	if a.n == 0 {
		return 0
	}
	return (a.sum + a.n/2) / a.n
}

// purchasesOf merges the campaign's orders with the tracked purchases: a
// tracked purchase whose order_id is the code of a reported order is that
// order (its viewer is the order's buyer when the order names none), so a
// purchase is never counted twice. sessions maps the session ids orders
// name to their viewers (orderSessions). It returns every purchase of the
// campaign, in time order.
func purchasesOf(orders []store.Order, tracked []store.TrackedEvent, sessions map[string]string) []purchase {
	byCode := map[string]int{}
	out := make([]purchase, 0, len(orders)+len(tracked))
	for _, o := range orders {
		amount, _ := ParseAmount(o.Total)
		if o.Code != "" {
			byCode[o.Code] = len(out)
		}
		out = append(out, purchase{at: o.CreatedAt, viewer: orderViewer(&o, sessions), order: true, amount: amount,
			currency: o.Currency, lines: o.Items})
	}
	for _, e := range tracked {
		var d purchaseData
		if e.Data != "" {
			_ = json.Unmarshal([]byte(e.Data), &d)
		}
		if i, ok := byCode[d.OrderID]; ok && d.OrderID != "" {
			if out[i].viewer == "" {
				out[i].viewer = e.ViewerID
			}
			continue
		}
		if d.OrderID != "" {
			byCode[d.OrderID] = len(out) // the same order tracked twice under two event ids
		}
		p := purchase{at: e.At, viewer: e.ViewerID, amount: e.AmountE4, currency: e.Currency}
		for _, id := range d.ProductIDs {
			p.lines = append(p.lines, store.OrderItem{ProductID: id, Quantity: 1})
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// orderViewer is the viewer an order names: its viewer_id, else its
// session's viewer; "" if neither.
func orderViewer(o *store.Order, sessions map[string]string) string {
	if o.ViewerID != "" {
		return o.ViewerID
	}
	return sessions[o.SessionID]
}

// orderSessions maps the session ids that orders name without a viewer id
// to the viewers of those sessions (the least viewer id of a session's
// events, as the audience takes it). It reads the store only when an
// order needs it.
func orderSessions(ctx context.Context, st store.Store, campaignID string, orders []store.Order) (map[string]string, error) {
	want := map[string]bool{}
	for _, o := range orders {
		if o.ViewerID == "" && o.SessionID != "" {
			want[o.SessionID] = true
		}
	}
	out := map[string]string{}
	if len(want) == 0 {
		return out, nil
	}
	spans, err := st.TrackedSessions(ctx, store.TrackedQuery{CampaignID: campaignID})
	if err != nil {
		return nil, fmt.Errorf("analytics: orders' sessions: %w", err)
	}
	for _, sp := range spans {
		if want[sp.SessionID] && sp.ViewerID != "" {
			if v, ok := out[sp.SessionID]; !ok || sp.ViewerID < v {
				out[sp.SessionID] = sp.ViewerID
			}
		}
	}
	return out, nil
}

// catalogEntry is what the report needs of a product.
type catalogEntry struct {
	name     string
	price    int64 // e4
	currency string
}

// businessInput is a phase's share of the commerce data.
type businessInput struct {
	currency    string
	catalog     map[string]catalogEntry
	shown       map[string]bool // displayed during the phase: pinned during the live, which the replay plays back
	audience    map[string]bool
	byType      map[string]group
	clickers    map[string]bool
	carts       []store.TrackedEvent
	purchases   []purchase // in the phase
	clicksByPID map[string]int64
}

func businessOf(in businessInput) (Business, []ProductStats) {
	b := Business{
		CatalogOpened:        in.byType[TypeCatalogOpen].Count,
		ProductClicks:        in.byType[TypeProductClick].Count,
		ViewersProductClicks: in.byType[TypeProductClick].Viewers,
		ProductClicksRate:    pct(countIn(in.clickers, in.audience), int64(len(in.audience))),
		AddToCart:            in.byType[TypeCartAdd].Count,
		CartsCreated:         int64(len(in.carts)),
	}
	var carts amounts
	cartViewers := map[string]bool{}
	for _, c := range in.carts {
		cartViewers[c.ViewerID] = true
		if c.Currency == in.currency {
			carts.add(c.AmountE4)
		}
	}
	b.CartsCreatedRate = pct(countIn(cartViewers, in.audience), int64(len(in.audience)))
	b.TotalCarts, b.AverageCart = FormatAmount(carts.sum), FormatAmount(carts.avg())
	b.MaximumCart, b.MinimumCart = FormatAmount(carts.max), FormatAmount(carts.min)

	type pstat struct {
		purchases, quantity, sales int64
	}
	perProduct := map[string]*pstat{}
	var paid amounts
	var productSales int64
	buyers := map[string]bool{}
	for _, p := range in.purchases {
		b.Purchases++
		if p.viewer != "" {
			buyers[p.viewer] = true
		}
		seen := map[string]bool{}
		var shownValue int64
		for _, l := range p.lines {
			ps := perProduct[l.ProductID]
			if ps == nil {
				ps = &pstat{}
				perProduct[l.ProductID] = ps
			}
			if !seen[l.ProductID] {
				ps.purchases++
				seen[l.ProductID] = true
			}
			ps.quantity += int64(l.Quantity)
			// A purchase in another currency counts in purchases and
			// quantity, not in amounts: nothing is converted.
			if c, ok := in.catalog[l.ProductID]; ok && c.currency == in.currency && p.currency == in.currency {
				v := c.price * int64(l.Quantity)
				ps.sales += v
				if in.shown[l.ProductID] {
					shownValue += v
				}
			}
		}
		if p.currency != in.currency {
			continue
		}
		paid.add(p.amount)
		productSales += min(shownValue, p.amount)
	}
	b.PurchasesRate = pct(countIn(buyers, in.audience), int64(len(in.audience)))
	b.TotalSales, b.ProductSales, b.OtherSales = FormatAmount(paid.sum), FormatAmount(productSales), FormatAmount(paid.sum-productSales)
	b.AveragePurchase, b.MaximumPurchase, b.MinimumPurchase = FormatAmount(paid.avg()), FormatAmount(paid.max), FormatAmount(paid.min)

	ids := map[string]bool{}
	for id := range in.clicksByPID {
		ids[id] = true
	}
	for id := range perProduct {
		ids[id] = true
	}
	for id := range in.shown {
		ids[id] = true
	}
	products := make([]ProductStats, 0, len(ids))
	for id := range ids {
		ps := ProductStats{ProductID: id, Name: in.catalog[id].name, Shown: in.shown[id], Clicks: in.clicksByPID[id], Sales: FormatAmount(0)}
		if s := perProduct[id]; s != nil {
			ps.Purchases, ps.Quantity, ps.Sales = s.purchases, s.quantity, FormatAmount(s.sales)
		}
		products = append(products, ps)
	}
	sort.Slice(products, func(i, j int) bool {
		a, b := products[i], products[j]
		if a.Clicks != b.Clicks {
			return a.Clicks > b.Clicks
		}
		if a.Purchases != b.Purchases {
			return a.Purchases > b.Purchases
		}
		return a.ProductID < b.ProductID
	})
	return b, products
}
