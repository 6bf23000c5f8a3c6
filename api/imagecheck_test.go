package api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image/gif"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngHeader is the signature and IHDR of a width x height RGB PNG: a
// header that promises pixels it does not have.
func pngHeader(width, height uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, RGB
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// corruptIDAT flips bytes in the middle of the first IDAT chunk's data,
// keeping its CRC (which then fails) or recomputing it (so that only the
// compressed pixel data is wrong).
func corruptIDAT(t *testing.T, png []byte, fixCRC bool) []byte {
	t.Helper()
	b := bytes.Clone(png)
	i := bytes.Index(b, []byte("IDAT"))
	if i < 4 {
		t.Fatal("no IDAT")
	}
	n := int(binary.BigEndian.Uint32(b[i-4:]))
	data := b[i+4 : i+4+n]
	for j := n / 3; j < n/3+16 && j < n-4; j++ {
		data[j] ^= 0x5a
	}
	if fixCRC {
		binary.BigEndian.PutUint32(b[i+4+n:], crc32.ChecksumIEEE(b[i:i+4+n]))
	}
	return b
}

func gifBytes(t *testing.T) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webp1x1 is a 1x1 lossless WebP.
func webp1x1(t *testing.T) []byte {
	b, err := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// damage is b with its byte at i set to v.
func damage(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// webpVP8X is a WebP whose extended header declares width x height.
func webpVP8X(width, height int) []byte {
	chunk := make([]byte, 10)
	put24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	put24(chunk[4:], width-1)
	put24(chunk[7:], height-1)
	body := append([]byte("WEBPVP8X\x0a\x00\x00\x00"), chunk...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestImageContentChecked(t *testing.T) {
	e := newEnv(t)
	pngData, jpegData, gifData, webpData := pngBytes(t), jpegBytes(t), gifBytes(t), webp1x1(t)
	for _, tc := range []struct {
		name          string
		ct            string
		body          []byte
		status        int
		width, height int
		msg           string // in the error message
	}{
		{"valid png", "image/png", pngData, 201, 64, 48, ""},
		{"valid jpeg", "image/jpeg", jpegData, 201, 64, 48, ""},
		{"valid gif", "image/gif", gifData, 201, 64, 48, ""},
		{"valid webp", "image/webp", webpData, 201, 1, 1, ""},
		{"png cut in half", "image/png", pngData[:len(pngData)/2], 422, 0, 0, "truncated"},
		{"png without its end", "image/png", pngData[:len(pngData)-12], 422, 0, 0, "truncated"},
		{"png with damaged pixel data", "image/png", corruptIDAT(t, pngData, false), 422, 0, 0, "corrupt"},
		{"png with damaged pixel data, CRC fixed", "image/png", corruptIDAT(t, pngData, true), 422, 0, 0, "corrupt"},
		{"png header alone", "image/png", pngHeader(640, 480), 422, 0, 0, "truncated"},
		{"png header of 100000x100000", "image/png", pngHeader(100000, 100000), 422, 0, 0, "100000x100000 pixels"},
		{"png header of 8193x10", "image/png", pngHeader(8193, 10), 422, 0, 0, "8193x10 pixels"},
		{"png header of 8000x6000 (48 MP)", "image/png", pngHeader(8000, 6000), 422, 0, 0, "8000x6000 pixels"},
		{"png header of 8192x4096, no pixels", "image/png", pngHeader(8192, 4096), 422, 0, 0, "truncated"},
		{"jpeg cut in half", "image/jpeg", jpegData[:len(jpegData)/2], 422, 0, 0, "truncated"},
		{"jpeg without its last 100 bytes", "image/jpeg", jpegData[:len(jpegData)-100], 422, 0, 0, "cannot be decoded"},
		{"gif cut in half", "image/gif", gifData[:len(gifData)/2], 422, 0, 0, "cannot be decoded"},
		{"webp cut short", "image/webp", webpData[:len(webpData)-4], 422, 0, 0, "truncated"},
		{"webp header of 20000x20000", "image/webp", webpVP8X(20000, 20000), 422, 0, 0, "20000x20000 pixels"},
		{"webp with trailing bytes", "image/webp", append(bytes.Clone(webpData), 0, 0), 422, 0, 0, "after the RIFF container"},
		{"webp with damaged pixel data", "image/webp", damage(webpData, 26, 0x00), 422, 0, 0, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/images", tc.body, withHeader("Content-Type", tc.ct))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.status == 201 {
				var img imageView
				r.decode(t, &img)
				if img.Width != tc.width || img.Height != tc.height || img.ContentType != tc.ct {
					t.Fatalf("uploaded %+v", img)
				}
				return
			}
			if r.errCode(t) != "invalid_image" || !strings.Contains(string(r.Body), tc.msg) {
				t.Fatalf("want invalid_image saying %q: %s", tc.msg, r.Body)
			}
		})
	}
	// Refused uploads leave nothing behind.
	entries, _ := os.ReadDir(filepath.Join(e.dir, "images"))
	if len(entries) != 4 {
		t.Fatalf("image directory holds %d files, want the 4 valid images", len(entries))
	}
}

func TestImageListAndDelete(t *testing.T) {
	e := newEnv(t)
	var ids []string // oldest first
	for range 5 {
		ids = append(ids, e.uploadPNG().ID)
	}
	// Distinct upload times, whatever the file system's clock resolution.
	for i, id := range ids {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(e.dir, "images", id+".png"), at, at); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover temporary upload is not an image.
	if err := os.WriteFile(filepath.Join(e.dir, "images", ".upload-123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Newest first, in pages.
	var got []imageView
	for cursor, pages := "", 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not advance")
		}
		path := "/api/v1/images?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Items      []imageView `json:"items"`
			NextCursor string      `json:"next_cursor"`
		}
		e.must(http.StatusOK, "GET", path, nil).decode(t, &page)
		got = append(got, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var gotIDs []string
	for _, im := range got {
		gotIDs = append(gotIDs, im.ID)
		if im.Width != 64 || im.Height != 48 || im.ContentType != "image/png" || im.URL != e.srv.URL+"/media/images/"+im.ID ||
			im.Size == 0 || im.CreatedAt.IsZero() {
			t.Fatalf("listed %+v", im)
		}
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(gotIDs, want) {
		t.Fatalf("listed %v, want %v", gotIDs, want)
	}

	// In use by a campaign or a product: 409; unused: 204, then gone.
	c := e.createCampaign(map[string]any{"images": []string{ids[0]}})
	p := e.createProduct("IMG-1", map[string]any{"image_url": "https://cdn.example.com/media/images/" + ids[1]})
	for _, tc := range []struct {
		name   string
		id     string
		status int
		code   string
	}{
		{"listed by a campaign", ids[0], 409, "image_in_use"},
		{"a product's image_url", ids[1], 409, "image_in_use"},
		{"unused", ids[2], 204, ""},
		{"deleted already", ids[2], 404, "not_found"},
		{"never was", "0123456789abcdef0123456789abcdef", 404, "not_found"},
		{"not an id", "not-an-id", 404, "not_found"},
		{"a temporary upload", ".upload-123", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("DELETE", "/api/v1/images/"+tc.id, nil)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" && r.errCode(t) != tc.code {
				t.Fatalf("code, want %s: %s", tc.code, r.Body)
			}
		})
	}
	e.must(http.StatusNotFound, "GET", "/media/images/"+ids[2], nil, noAuth)
	e.must(http.StatusOK, "GET", "/media/images/"+ids[0], nil, noAuth)

	// Out of use, it can go.
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"images": []string{}})
	e.must(http.StatusOK, "PATCH", "/api/v1/products/"+p.ID, map[string]any{"image_url": ""})
	e.must(http.StatusNoContent, "DELETE", "/api/v1/images/"+ids[0], nil)
	e.must(http.StatusNoContent, "DELETE", "/api/v1/images/"+ids[1], nil)
	var page struct {
		Items []imageView `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/images", nil).decode(t, &page)
	if len(page.Items) != 2 {
		t.Fatalf("%d images left, want 2", len(page.Items))
	}

	// Admin routes, like every other.
	e.must(http.StatusUnauthorized, "GET", "/api/v1/images", nil, noAuth).errCode(t)
	e.must(http.StatusUnauthorized, "DELETE", "/api/v1/images/"+ids[3], nil, noAuth).errCode(t)
	for _, cur := range []string{"x", "1_nothex", "-1_0123456789abcdef0123456789abcdef"} {
		e.must(http.StatusBadRequest, "GET", "/api/v1/images?cursor="+cur, nil).errCode(t)
	}
}

// TestUnusedImagesSwept: the sweep deletes the images nothing refers to
// once they are old enough, and keeps the fresh ones and those in use.
func TestUnusedImagesSwept(t *testing.T) {
	e := newEnv(t)
	old, fresh, listed, named := e.uploadPNG().ID, e.uploadPNG().ID, e.uploadPNG().ID, e.uploadPNG().ID
	now := e.clock.Now()
	for id, age := range map[string]time.Duration{old: 48 * time.Hour, fresh: time.Hour, listed: 48 * time.Hour, named: 48 * time.Hour} {
		at := now.Add(-age)
		if err := os.Chtimes(filepath.Join(e.dir, "images", id+".png"), at, at); err != nil {
			t.Fatal(err)
		}
	}
	e.createCampaign(map[string]any{"images": []string{listed}})
	e.createProduct("SWEEP-1", map[string]any{"image_url": "https://cdn.example.com/media/images/" + named})
	n, err := e.api.SweepImages(t.Context(), ImageUnusedFor)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the one old unused image", n, err)
	}
	e.must(http.StatusNotFound, "GET", "/media/images/"+old, nil, noAuth)
	for _, id := range []string{fresh, listed, named} {
		e.must(http.StatusOK, "GET", "/media/images/"+id, nil, noAuth)
	}
}
