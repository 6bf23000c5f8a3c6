package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBanNamesAndHiddenMessages: the bans list names each viewer as it
// chatted, and a ban with hide_messages deletes the viewer's lines (and
// only theirs) as a moderator would.
func TestBanNamesAndHiddenMessages(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true, "starts_at": t0.Add(-time.Minute).Format(time.RFC3339)})
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
	live := "/live/" + c.ID
	type hello struct {
		Token    string `json:"token"`
		ViewerID string `json:"viewer_id"`
	}
	var ann, bob hello
	e.must(http.StatusCreated, "POST", live+"/viewer", nil, noAuth).decode(t, &ann)
	e.must(http.StatusCreated, "POST", live+"/viewer", nil, noAuth).decode(t, &bob)
	say := func(h hello, name, text string) {
		e.must(http.StatusAccepted, "POST", live+"/actions", map[string]any{"type": "chat.send",
			"data": map[string]any{"text": text, "name": name}}, noAuth, withHeader(viewerHeader, h.Token))
	}
	say(ann, "Ann", "buy fake bags at spam.example")
	say(bob, "Bob", "nice bag")
	say(ann, "Annie", "spam again")

	var bans struct {
		ViewerIDs []string `json:"viewer_ids"`
		Bans      []struct {
			ViewerID string `json:"viewer_id"`
			Name     string `json:"name"`
		} `json:"bans"`
	}
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+c.ID+"/bans", map[string]any{"viewer_id": ann.ViewerID, "hide_messages": true}).decode(t, &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].ViewerID != ann.ViewerID || bans.Bans[0].Name != "Annie" {
		t.Fatalf("bans after the ban: %+v", bans)
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/bans", nil).decode(t, &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].Name != "Annie" || len(bans.ViewerIDs) != 1 {
		t.Fatalf("bans listed: %+v", bans)
	}
	var lines struct {
		Items []struct {
			Text    string `json:"text"`
			Deleted bool   `json:"deleted"`
		} `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/messages", nil).decode(t, &lines)
	if len(lines.Items) != 3 {
		t.Fatalf("chat lines: %+v", lines)
	}
	for _, l := range lines.Items {
		if l.Deleted != (l.Text != "nice bag") {
			t.Errorf("line %q deleted=%v: only Ann's lines go with her ban", l.Text, l.Deleted)
		}
	}
}

// TestImageIDOrURL: a campaign's images and a product's image_url each
// take an uploaded image's id or its URL.
func TestImageIDOrURL(t *testing.T) {
	e := newEnv(t)
	im := e.uploadPNG()
	c := e.createCampaign(map[string]any{"images": []string{im.URL}})
	if len(c.Images) != 1 || c.Images[0] != im.ID {
		t.Fatalf("campaign images from a URL: %+v", c.Images)
	}
	p := e.createProduct("IMG-REF", map[string]any{"image_url": im.ID})
	if p.ImageURL != im.URL {
		t.Fatalf("product image_url from an id: %q, want %q", p.ImageURL, im.URL)
	}
	r := e.do("POST", "/api/v1/campaigns", map[string]any{"title": "x", "starts_at": t0.Add(time.Hour).Format(time.RFC3339),
		"ends_at": t0.Add(2 * time.Hour).Format(time.RFC3339), "images": []string{"0123456789abcdef0123456789abcdef"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "give the id or the url") {
		t.Fatalf("an unknown image: %d %s", r.Status, r.Body)
	}
}
