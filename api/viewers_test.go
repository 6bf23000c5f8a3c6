package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// icsComponent is a parsed iCalendar component.
type icsComponent struct {
	Name  string
	Props map[string][]string // name -> unescaped values (TEXT properties) or raw values
	Subs  []*icsComponent
}

var icsTextProps = map[string]bool{"SUMMARY": true, "DESCRIPTION": true, "UID": true, "LOCATION": true}

var icsUTC = regexp.MustCompile(`^\d{8}T\d{6}Z$`)

// parseICS is a strict RFC 5545 reader for the subset Vitrine writes:
// CRLF only, physical lines of at most 75 octets, folding, balanced
// BEGIN/END, TEXT escapes.
func parseICS(body string) (*icsComponent, error) {
	if !strings.HasSuffix(body, "\r\n") {
		return nil, errors.New("does not end with CRLF")
	}
	physical := strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
	var lines []string
	for i, l := range physical {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("line %d: bare CR or LF", i+1)
		}
		if len(l) > 75 {
			return nil, fmt.Errorf("line %d: %d octets", i+1, len(l))
		}
		if !utf8.ValidString(l) {
			return nil, fmt.Errorf("line %d: folded inside a UTF-8 sequence", i+1)
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(lines) == 0 {
				return nil, errors.New("continuation before any line")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var stack []*icsComponent
	var root *icsComponent
	for _, l := range lines {
		nameParams, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("no colon in %q", l)
		}
		name, _, _ := strings.Cut(nameParams, ";")
		switch name {
		case "BEGIN":
			c := &icsComponent{Name: value, Props: map[string][]string{}}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.Subs = append(top.Subs, c)
			} else if root != nil {
				return nil, errors.New("two top-level components")
			} else {
				root = c
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1].Name != value {
				return nil, fmt.Errorf("unbalanced END:%s", value)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, fmt.Errorf("property %s outside a component", name)
			}
			if icsTextProps[name] {
				v, err := icsUnescape(value)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				value = v
			}
			top := stack[len(stack)-1]
			top.Props[name] = append(top.Props[name], value)
		}
	}
	if len(stack) != 0 || root == nil || root.Name != "VCALENDAR" {
		return nil, errors.New("not one complete VCALENDAR")
	}
	return root, nil
}

func icsUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", errors.New("trailing backslash")
			}
			i++
			switch s[i] {
			case '\\', ';', ',':
				b.WriteByte(s[i])
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				return "", fmt.Errorf("bad escape \\%c", s[i])
			}
		case ';', ',':
			return "", fmt.Errorf("unescaped %c", s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

func TestCalendar(t *testing.T) {
	e := newEnv(t)
	title := "Soldes d'hiver; bottes, manteaux \\ 50 % 🎉"
	desc := strings.Repeat("Des bottes en cuir, des manteaux chauds; tout à moitié prix. ", 5) + "\nLigne deux\r\nLigne trois 👢"
	c := e.createCampaign(map[string]any{"title": title, "description": desc, "published": true})
	hidden := e.createCampaign(nil)

	r := e.must(http.StatusOK, "GET", "/live/"+c.ID+"/calendar.ics", nil, noAuth)
	if ct := r.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	cal, err := parseICS(string(r.Body))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Body)
	}
	if cal.Props["VERSION"][0] != "2.0" || len(cal.Props["PRODID"]) != 1 || len(cal.Subs) != 1 {
		t.Fatalf("calendar %+v", cal)
	}
	ev := cal.Subs[0]
	if ev.Name != "VEVENT" {
		t.Fatalf("component %s", ev.Name)
	}
	for _, p := range []string{"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "URL"} {
		if len(ev.Props[p]) != 1 {
			t.Fatalf("VEVENT has %d %s", len(ev.Props[p]), p)
		}
	}
	for _, p := range []string{"DTSTAMP", "DTSTART", "DTEND"} {
		if !icsUTC.MatchString(ev.Props[p][0]) {
			t.Fatalf("%s %q not in UTC form", p, ev.Props[p][0])
		}
	}
	if ev.Props["DTSTART"][0] != "20261122T100000Z" || ev.Props["DTEND"][0] != "20261122T120000Z" {
		t.Fatalf("window %s - %s", ev.Props["DTSTART"][0], ev.Props["DTEND"][0])
	}
	if ev.Props["SUMMARY"][0] != title {
		t.Fatalf("SUMMARY %q", ev.Props["SUMMARY"][0])
	}
	wantDesc := strings.ReplaceAll(desc, "\r\n", "\n") + "\n\nWatch live: " + e.srv.URL + "/watch/" + c.ID
	if ev.Props["DESCRIPTION"][0] != wantDesc {
		t.Fatalf("DESCRIPTION %q\nwant %q", ev.Props["DESCRIPTION"][0], wantDesc)
	}
	if ev.Props["URL"][0] != e.srv.URL+"/watch/"+c.ID || !strings.HasPrefix(ev.Props["UID"][0], c.ID+"@") {
		t.Fatalf("URL %q UID %q", ev.Props["URL"][0], ev.Props["UID"][0])
	}
	if len(ev.Subs) != 1 || ev.Subs[0].Name != "VALARM" || ev.Subs[0].Props["TRIGGER"][0] != "-PT15M" ||
		ev.Subs[0].Props["ACTION"][0] != "DISPLAY" || len(ev.Subs[0].Props["DESCRIPTION"]) != 1 {
		t.Fatalf("alarm %+v", ev.Subs)
	}

	e.must(http.StatusNotFound, "GET", "/live/"+hidden.ID+"/calendar.ics", nil, noAuth).errCode(t)
	e.must(http.StatusNotFound, "GET", "/live/nope/calendar.ics", nil, noAuth).errCode(t)
}

func TestFoldLine(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", 75), strings.Repeat("a", 76), strings.Repeat("é", 100), strings.Repeat("🎉", 50)} {
		out := foldLine("X:" + s)
		cal, err := parseICS("BEGIN:VCALENDAR\r\n" + out + "END:VCALENDAR\r\n")
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if cal.Props["X"][0] != s {
			t.Fatalf("round trip of %q gave %q", s, cal.Props["X"][0])
		}
	}
}

func TestReminders(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true})
	hidden := e.createCampaign(nil)
	path := "/live/" + c.ID + "/reminders"
	e.notes.reset()

	var rem reminderView
	e.must(http.StatusCreated, "POST", path, `{"phone": "+33612345678", "opt_in": true}`, noAuth).decode(t, &rem)
	if rem.ID == "" || rem.Phone != "+33612345678" || !rem.OptIn || rem.CampaignID != c.ID {
		t.Fatalf("reminder %+v", rem)
	}
	n, ok := e.notes.last(EventReminderCreated)
	if !ok || n.Data["phone"] != "+33612345678" || n.Data["opt_in"] != true || n.Data["campaign_id"] != c.ID {
		t.Fatalf("reminder.created %v", n)
	}
	// A repeat updates the opt-in, answers 200 with the first reminder,
	// and is not handed to the SMS provider again.
	var again reminderView
	e.must(http.StatusOK, "POST", path, `{"phone": "+33612345678", "opt_in": false}`, noAuth).decode(t, &again)
	if again.ID != rem.ID || !again.CreatedAt.Equal(rem.CreatedAt) || again.OptIn {
		t.Fatalf("repeat %+v, first %+v", again, rem)
	}
	list, _, err := e.st.ListReminders(t.Context(), c.ID, storePage())
	if err != nil || len(list) != 1 || list[0].OptIn {
		t.Fatalf("stored %+v %v", list, err)
	}
	count := 0
	for _, typ := range e.notes.types() {
		if typ == EventReminderCreated {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d reminder.created notifications for one phone, want 1", count)
	}
	// Another phone is another reminder.
	e.must(http.StatusCreated, "POST", path, `{"phone": "+33700000000"}`, noAuth)

	for _, tc := range []struct {
		name   string
		path   string
		body   string
		ct     string
		status int
	}{
		{"no plus", path, `{"phone": "0612345678"}`, "application/json", http.StatusUnprocessableEntity},
		{"letters", path, `{"phone": "+33abc"}`, "application/json", http.StatusUnprocessableEntity},
		{"too long", path, `{"phone": "+1234567890123456"}`, "application/json", http.StatusUnprocessableEntity},
		{"too short", path, `{"phone": "+123456"}`, "application/json", http.StatusUnprocessableEntity},
		{"leading zero country", path, `{"phone": "+0612345678"}`, "application/json", http.StatusUnprocessableEntity},
		{"opt_in as string", path, `{"phone": "+33612345678", "opt_in": "yes"}`, "application/json", http.StatusBadRequest},
		{"unknown field", path, `{"phone": "+33612345678", "name": "x"}`, "application/json", http.StatusBadRequest},
		{"form", path, `phone=%2B33612345678`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"oversize", path, `{"phone": "+33612345678", "opt_in": true` + strings.Repeat(" ", 5000) + `}`, "application/json", http.StatusRequestEntityTooLarge},
		{"unpublished", "/live/" + hidden.ID + "/reminders", `{"phone": "+33612345678"}`, "application/json", http.StatusNotFound},
		{"unknown campaign", "/live/nope/reminders", `{"phone": "+33612345678"}`, "application/json", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", tc.path, tc.body, noAuth, withHeader("Content-Type", tc.ct))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			r.errCode(t)
		})
	}

	e.clock.Set(t0.Add(3 * time.Hour))
	if r := e.must(http.StatusConflict, "POST", path, `{"phone": "+33612345678"}`, noAuth); r.errCode(t) != "campaign_completed" {
		t.Fatalf("completed: %s", r.Body)
	}
}
