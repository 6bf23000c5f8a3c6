package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"vitrine/events"
	"vitrine/store"
)

// ExportOptions select an export's parts and time range.
type ExportOptions struct {
	// From and To narrow the data: prelive and replay metrics, users'
	// subscriptions, orders and messages, and chat messages.
	From, To *time.Time
	// Parts.
	Metrics, Users, Chat bool
	Now                  time.Time
}

// Sheet names.
const (
	SheetInteractions = "Interactions"
	SheetUsers        = "Users"
	SheetChat         = "Chat"
)

// ExportContentType is the media type of an export.
const ExportContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Export writes the campaign's spreadsheet to w: a sheet per phase with
// its metrics (name, value and definition), one for the interactions,
// one of user data and one of chat messages, as asked. Sheets are written
// with excelize's streaming writer, which keeps large sheets in a
// temporary file rather than in memory, and the chat is read from the log
// a page at a time.
func Export(ctx context.Context, st store.Store, campaignID string, opt ExportOptions, w io.Writer) error {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	c, err := st.GetCampaign(ctx, campaignID)
	if err != nil {
		return err
	}
	f := excelize.NewFile()
	defer f.Close()
	var sheets []string
	newSheet := func(name string) (*excelize.StreamWriter, error) {
		if len(sheets) == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return nil, err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
		sheets = append(sheets, name)
		return f.NewStreamWriter(name)
	}
	if opt.Metrics {
		rep, err := Compute(ctx, st, campaignID, Options{From: opt.From, To: opt.To, Now: opt.Now})
		if err != nil {
			return err
		}
		for _, p := range []struct {
			name string
			v    any
		}{{"Prelive", rep.Prelive}, {"Live", rep.Live}, {"Replay", rep.Replay}} {
			sw, err := newSheet(p.name)
			if err != nil {
				return err
			}
			rw := &rowWriter{sw: sw}
			rw.row("Campaign", c.Title)
			rw.row("Currency", rep.Currency)
			if reflect.ValueOf(p.v).IsNil() {
				rw.row("This phase has not begun.")
			} else {
				rw.row()
				rw.row("Section", "Metric", "Value", "Definition")
				flatten(rw, "", reflect.ValueOf(p.v).Elem(), "")
			}
			if err := rw.flush(); err != nil {
				return err
			}
		}
		sw, err := newSheet(SheetInteractions)
		if err != nil {
			return err
		}
		rw := &rowWriter{sw: sw}
		rw.row("Poll", "Question", "Option", "Votes", "Percent", "Closed")
		for _, p := range rep.Interactions.Polls {
			for _, o := range p.Options {
				rw.row(p.ID, p.Question, o.Text, o.Votes, o.Percent, p.Closed)
			}
		}
		rw.row()
		rw.row("Instant win", "Prize", "Planned winners", "Entrants", "Drawn", "Winners")
		for _, iw := range rep.Interactions.InstantWins {
			names := make([]string, len(iw.Winners))
			for i, w := range iw.Winners {
				names[i] = w.Name + " (" + w.ViewerID + ")"
			}
			rw.row(iw.ID, iw.Prize, iw.Planned, iw.Entrants, iw.Drawn, strings.Join(names, ", "))
		}
		if err := rw.flush(); err != nil {
			return err
		}
	}
	if opt.Users {
		sw, err := newSheet(SheetUsers)
		if err != nil {
			return err
		}
		if err := writeUsers(ctx, st, campaignID, opt, sw); err != nil {
			return err
		}
	}
	if opt.Chat {
		sw, err := newSheet(SheetChat)
		if err != nil {
			return err
		}
		if err := writeChat(ctx, st, campaignID, opt, sw); err != nil {
			return err
		}
	}
	if len(sheets) == 0 {
		return fmt.Errorf("analytics: export: no part asked for")
	}
	_, err = f.WriteTo(w)
	return err
}

// rowWriter numbers the rows of a streamed sheet and keeps its first
// error.
type rowWriter struct {
	sw  *excelize.StreamWriter
	n   int
	err error
}

func (rw *rowWriter) row(values ...any) {
	if rw.err != nil {
		return
	}
	rw.n++
	cell, _ := excelize.CoordinatesToCellName(1, rw.n)
	rw.err = rw.sw.SetRow(cell, values)
}

func (rw *rowWriter) flush() error {
	if rw.err != nil {
		return rw.err
	}
	return rw.sw.Flush()
}

var pointType = reflect.TypeFor[Point]()

// flatten writes a metrics struct as rows: section, metric, value and the
// metric's definition from its doc tag; lists as small tables.
func flatten(rw *rowWriter, section string, v reflect.Value, _ string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		doc := f.Tag.Get("doc")
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[Window]():
			w := fv.Interface().(Window)
			rw.row(name, "from", w.From.Format(time.RFC3339), "start of the phase's window")
			rw.row(name, "to", w.To.Format(time.RFC3339), "end of the phase's window")
		case fv.Kind() == reflect.Struct:
			flatten(rw, name, fv, doc)
		case fv.Kind() == reflect.Array:
			for j := range fv.Len() {
				rw.row(section, name+" "+strconv.Itoa(j+1), fv.Index(j).Interface(), doc)
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem() == pointType:
			// A series: one row per bucket.
			for j := range fv.Len() {
				p := fv.Index(j).Interface().(Point)
				rw.row(section, name, p.Value, "bucket from "+p.At.Format(time.RFC3339))
			}
		case fv.Kind() == reflect.Slice:
			et := fv.Type().Elem()
			header := []any{name}
			for k := range et.NumField() {
				n, _, _ := strings.Cut(et.Field(k).Tag.Get("json"), ",")
				header = append(header, n)
			}
			rw.row()
			rw.row(header...)
			for j := range fv.Len() {
				row := []any{""}
				for k := range et.NumField() {
					row = append(row, fv.Index(j).Field(k).Interface())
				}
				rw.row(row...)
			}
			rw.row()
		default:
			rw.row(section, name, fv.Interface(), doc)
		}
	}
}

// inRange reports whether t is in the export's range.
func (o ExportOptions) inRange(t time.Time) bool {
	return (o.From == nil || !t.Before(*o.From)) && (o.To == nil || t.Before(*o.To))
}

// user is one row of the user data sheet.
type user struct {
	viewer, name, phone, email string
	messages, questions        int64
	optIn                      bool
	orders                     int64
	spent                      int64
	currency                   string
	from                       map[string]bool
}

// writeUsers gathers what viewers left: chat names and messages, alert
// subscriptions (name, email, phone, opt-in), SMS reminders (phone,
// opt-in) and orders (customer name), joined on the viewer id where one
// is known (a reminder joins the viewer who subscribed with the same
// phone; an order, the viewer it names — viewer_id, else its session's
// viewer — else the viewer whose tracked purchase has its code).
func writeUsers(ctx context.Context, st store.Store, campaignID string, opt ExportOptions, sw *excelize.StreamWriter) error {
	users := map[string]*user{}
	get := func(key string) *user {
		u := users[key]
		if u == nil {
			u = &user{from: map[string]bool{}}
			if !strings.Contains(key, ":") {
				u.viewer = key
			}
			users[key] = u
		}
		return u
	}
	err := EachEvent(ctx, st, campaignID, func(e *store.Event) error {
		if !opt.inRange(e.At) {
			return nil
		}
		switch e.Type {
		case events.TypeChatMessage, events.TypeChatQuestion:
			m, ok := decode[events.ChatMessage](e)
			if !ok || m.ViewerID == "" {
				return nil
			}
			u := get(m.ViewerID)
			u.name = m.Name
			u.from["chat"] = true
			if e.Type == events.TypeChatQuestion {
				u.questions++
			} else {
				u.messages++
			}
		case events.TypeInstantWinEntered:
			if m, ok := decode[events.InstantWinEntered](e); ok && m.ViewerID != "" {
				u := get(m.ViewerID)
				if u.name == "" {
					u.name = m.Name
				}
				u.from["instant win"] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	byPhone := map[string]string{}
	byOrder := map[string]string{}
	err = st.ScanTrackedEvents(ctx, store.TrackedQuery{CampaignID: campaignID, Types: []string{TypeAlertSubscribe, TypePurchase}},
		func(e *store.TrackedEvent) error {
			if e.Data == "" {
				return nil
			}
			if e.Type == TypePurchase {
				var d purchaseData
				if json.Unmarshal([]byte(e.Data), &d) == nil && d.OrderID != "" {
					byOrder[d.OrderID] = e.ViewerID
				}
				return nil
			}
			if !opt.inRange(e.At) {
				return nil
			}
			var c contact
			if json.Unmarshal([]byte(e.Data), &c) != nil {
				return nil
			}
			u := get(e.ViewerID)
			u.from[e.Target+" alert"] = true
			if c.Name != "" {
				u.name = c.Name
			}
			if c.Email != "" {
				u.email = c.Email
			}
			if c.Phone != "" {
				u.phone = c.Phone
				byPhone[c.Phone] = e.ViewerID
			}
			u.optIn = u.optIn || c.OptIn
			return nil
		})
	if err != nil {
		return err
	}
	reminders, err := listAll(ctx, func(p store.Page) ([]store.Reminder, string, error) {
		return st.ListReminders(ctx, campaignID, p)
	})
	if err != nil {
		return err
	}
	for _, r := range reminders {
		if !opt.inRange(r.CreatedAt) {
			continue
		}
		key := "phone:" + r.Phone
		if v, ok := byPhone[r.Phone]; ok {
			key = v
		}
		u := get(key)
		u.phone = r.Phone
		u.optIn = u.optIn || r.OptIn
		u.from["sms reminder"] = true
	}
	orders, err := listAll(ctx, func(p store.Page) ([]store.Order, string, error) {
		return st.ListOrders(ctx, campaignID, p)
	})
	if err != nil {
		return err
	}
	sessions, err := orderSessions(ctx, st, campaignID, orders)
	if err != nil {
		return err
	}
	for _, o := range orders {
		if !opt.inRange(o.CreatedAt) {
			continue
		}
		key := "order:" + o.ID
		if v := orderViewer(&o, sessions); v != "" {
			key = v
		} else if v, ok := byOrder[o.Code]; ok && v != "" {
			key = v
		}
		u := get(key)
		if o.CustomerName != "" {
			u.name = o.CustomerName
		}
		u.orders++
		amount, _ := ParseAmount(o.Total)
		if u.currency == "" || u.currency == o.Currency {
			u.spent += amount
			u.currency = o.Currency
		}
		u.from["order"] = true
	}
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rw := &rowWriter{sw: sw}
	rw.row("Viewer ID", "Name", "Phone", "Email", "Messages", "Questions", "Opt-in", "Orders", "Spent", "Currency", "Collected from")
	for _, k := range keys {
		u := users[k]
		from := make([]string, 0, len(u.from))
		for s := range u.from {
			from = append(from, s)
		}
		sort.Strings(from)
		rw.row(u.viewer, u.name, u.phone, u.email, u.messages, u.questions, u.optIn, u.orders,
			FormatAmount(u.spent), u.currency, strings.Join(from, ", "))
	}
	return rw.flush()
}

// writeChat writes the chat's messages, questions and answers with their
// moderation state. The log is read twice, a page at a time: first the
// moderation (deletions, messages shown to the host, bans), then the
// lines (ChatLog of each page), so that memory does not grow
// with the chat.
func writeChat(ctx context.Context, st store.Store, campaignID string, opt ExportOptions, sw *excelize.StreamWriter) error {
	deleted, displayed, banned := map[string]bool{}, map[string]bool{}, map[string]bool{}
	err := EachEvent(ctx, st, campaignID, func(e *store.Event) error {
		switch e.Type {
		case events.TypeChatDeleted, events.TypeChatDisplayed:
			if r, ok := decode[events.MessageRef](e); ok {
				if e.Type == events.TypeChatDeleted {
					deleted[r.MessageID] = true
				} else {
					displayed[r.MessageID] = true
				}
			}
		case events.TypeViewerBanned, events.TypeViewerUnban:
			if v, ok := decode[events.ViewerRef](e); ok {
				banned[v.ViewerID] = e.Type == events.TypeViewerBanned
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rw := &rowWriter{sw: sw}
	rw.row("Seq", "Time", "Type", "Viewer ID", "Name", "Text", "Reply to", "Deleted", "Displayed", "Banned")
	for after := int64(0); ; {
		page, err := st.ListEvents(ctx, campaignID, after, store.MaxEventPage)
		if err != nil {
			return err
		}
		for _, l := range ChatLog(page) {
			if !opt.inRange(l.At) {
				continue
			}
			kind := map[string]string{events.TypeChatMessage: "message", events.TypeChatQuestion: "question",
				events.TypeChatAnswer: "answer"}[l.Type]
			rw.row(l.Seq, l.At.Format(time.RFC3339Nano), kind, l.ViewerID, l.Name, l.Text, l.ReplyTo,
				l.Deleted || deleted[l.ID], l.Displayed || displayed[l.ID], l.ViewerID != "" && banned[l.ViewerID])
		}
		if rw.err != nil {
			return rw.err
		}
		if len(page) < store.MaxEventPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	return rw.flush()
}
