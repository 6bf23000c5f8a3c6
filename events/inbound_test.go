package events

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeInbound(t *testing.T) {
	ok := map[string]Inbound{
		`{"type":"like"}`:           {Type: InLike},
		`{"type":"like","data":{}}`: {Type: InLike},
		` {"type":"chat.send","data":{"text":" hi ","name":"Ann"}} `:                {Type: InChatSend, Text: "hi", Name: "Ann"},
		`{"type":"chat.send","data":{"text":"<b>x</b>\nok","name":"A&B"}}`:          {Type: InChatSend, Text: "<b>x</b>\nok", Name: "A&B"},
		`{"type":"chat.send","data":{"text":"Size?","name":"A","question":true}}`:   {Type: InChatSend, Text: "Size?", Name: "A", Question: true},
		`{"type":"poll.vote","data":{"poll_id":"poll_x1","option":0}}`:              {Type: InPollVote, ID: "poll_x1"},
		`{"type":"instant_win.enter","data":{"instant_win_id":"iw_1","name":"Bo"}}`: {Type: InInstantWinEnter, ID: "iw_1", Name: "Bo"},
		`{"type":"survey.answer","data":{"rating":4}}`:                              {Type: InSurveyAnswer, Rating: 4},
		`{"type":"survey.answer","data":{"rating":5,"comment":" Great "}}`:          {Type: InSurveyAnswer, Rating: 5, Comment: "Great"},
		`{"type":"share","data":{"network":"whatsapp"}}`:                            {Type: InShare, Network: "whatsapp"},
		// Pasted text: a tab is a space, a Windows line end a newline.
		`{"type":"chat.send","data":{"text":"a\tb\r\nc\rd","name":"Ann\tLee"}}`: {Type: InChatSend, Text: "a b\nc\nd", Name: "Ann Lee"},
	}
	for in, want := range ok {
		got, err := DecodeInbound([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"like"`, `{}`, `{"type":"like"} {}`, `{"type":"like","x":1}`, `{"type":"LIKE"}`,
		`{"type":"like","data":{"n":5}}`, `{"type":"chat.send"}`, `{"type":"chat.send","data":null}`,
		`{"type":"chat.send","data":{"text":"","name":"A"}}`, `{"type":"chat.send","data":{"text":"hi"}}`,
		`{"type":"chat.send","data":{"text":"hi","name":"A","html":"<i>"}}`,
		`{"type":"chat.send","data":{"text":"a\u0000b","name":"A"}}`,
		`{"type":"chat.send","data":{"text":"ok","name":"A\nB"}}`,
		`{"type":"chat.send","data":{"text":"ok","name":"A\r\nB"}}`,
		`{"type":"chat.send","data":{"text":"` + strings.Repeat("é", MaxChatRunes+1) + `","name":"A"}}`,
		`{"type":"chat.send","data":{"text":"ok","name":"` + strings.Repeat("n", MaxNameRunes+1) + `"}}`,
		`{"type":"like","pad":"` + strings.Repeat("x", MaxInboundBytes) + `"}`,
		"{\"type\":\"like\xff\"}",
		`{"type":"chat.send","data":{"text":"\u202eevil","name":"A"}}`,
		`{"type":"poll.vote","data":{"poll_id":"poll_x1"}}`, `{"type":"poll.vote","data":{"poll_id":"../x","option":0}}`,
		`{"type":"poll.vote","data":{"poll_id":"p","option":-1}}`, `{"type":"poll.vote","data":{"poll_id":"p","option":1.5}}`,
		`{"type":"instant_win.enter","data":{"instant_win_id":"iw_1"}}`,
		`{"type":"survey.answer","data":{"rating":0}}`, `{"type":"survey.answer","data":{"rating":6}}`,
		`{"type":"share","data":{"network":"myspace"}}`, `{"type":"share"}`,
	}
	for _, in := range bad {
		if got, err := DecodeInbound([]byte(in)); !errors.Is(err, ErrBadInbound) {
			t.Errorf("%.80s: accepted as %+v (%v)", in, got, err)
		}
	}
}

func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"like"}`, `{"type":"chat.send","data":{"text":"hi","name":"Ann"}}`,
		`{"type":"chat.send","data":{"text":"\u00e9\n","name":"x"}}`, `{"type":"like","data":{}}`, `{`, `null`,
		`{"type":"poll.vote","data":{"poll_id":"poll_a","option":1}}`, `{"type":"survey.answer","data":{"rating":3,"comment":"ok"}}`,
		`{"type":"instant_win.enter","data":{"instant_win_id":"iw_a","name":"x"}}`, `{"type":"share","data":{"network":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := DecodeInbound(b)
		if err != nil {
			if !errors.Is(err, ErrBadInbound) {
				t.Fatalf("error not ErrBadInbound: %v", err)
			}
			return
		}
		switch in.Type {
		case InLike:
			if in.Text != "" || in.Name != "" {
				t.Fatalf("like with text: %+v", in)
			}
		case InChatSend:
			for _, s := range []string{in.Text, in.Name} {
				if s == "" || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
					t.Fatalf("bad text accepted: %q", s)
				}
			}
			if utf8.RuneCountInString(in.Text) > MaxChatRunes || utf8.RuneCountInString(in.Name) > MaxNameRunes ||
				strings.ContainsAny(in.Name, "\n\r\x00") {
				t.Fatalf("limits not applied: %+v", in)
			}
			// What was accepted survives a round trip unchanged.
			data, _ := json.Marshal(map[string]any{"type": InChatSend, "data": map[string]any{"text": in.Text, "name": in.Name, "question": in.Question}})
			again, err := DecodeInbound(data)
			if len(data) <= MaxInboundBytes && (err != nil || again != in) {
				t.Fatalf("round trip: %+v -> %+v, %v", in, again, err)
			}
		case InPollVote, InInstantWinEnter:
			if checkID("id", in.ID) != nil || in.Option < 0 {
				t.Fatalf("bad id or option accepted: %+v", in)
			}
		case InSurveyAnswer:
			if in.Rating < 1 || in.Rating > 5 || utf8.RuneCountInString(in.Comment) > MaxChatRunes {
				t.Fatalf("bad survey accepted: %+v", in)
			}
		case InShare:
			if !slices.Contains(Networks, in.Network) {
				t.Fatalf("bad network accepted: %+v", in)
			}
		default:
			t.Fatalf("unknown type accepted: %+v", in)
		}
	})
}
