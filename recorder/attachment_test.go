package recorder

import "testing"

// Downloads are named after the campaign's title, sanitised, with an
// ASCII filename and a UTF-8 filename*.
func TestAttachment(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Autumn bags.mp4", `attachment; filename="Autumn-bags.mp4"; filename*=UTF-8''Autumn%20bags.mp4`},
		{"Soldes d'été - Sac cuir.mp4", `attachment; filename="Soldes-d-t-Sac-cuir.mp4"; filename*=UTF-8''Soldes%20d%27%C3%A9t%C3%A9%20-%20Sac%20cuir.mp4`},
		{"../../etc/passwd\r\n\".mp4", `attachment; filename="etc-passwd.mp4"; filename*=UTF-8''etc%20passwd.mp4`},
		{"夏のセール.mp4", `attachment; filename="replay-cmp_1.mp4"; filename*=UTF-8''%E5%A4%8F%E3%81%AE%E3%82%BB%E3%83%BC%E3%83%AB.mp4`},
		{"/// .mp4", `attachment; filename="replay-cmp_1.mp4"`},
	} {
		if got := attachment(tc.name, "replay-cmp_1.mp4"); got != tc.want {
			t.Errorf("attachment(%q)\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
