package api

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	return img
}

func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func multipartBody(t testing.TB, field, filename, contentType string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("note", "ignored")
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + filename + `"`}
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func (e *env) uploadPNG() imageView {
	e.t.Helper()
	var img imageView
	e.must(http.StatusCreated, "POST", "/api/v1/images", pngBytes(e.t), withHeader("Content-Type", "image/png")).decode(e.t, &img)
	return img
}

func TestImageUpload(t *testing.T) {
	e := newEnv(t)
	pngData, jpegData := pngBytes(t), jpegBytes(t)

	img := e.uploadPNG()
	if img.ContentType != "image/png" || img.Width != 64 || img.Height != 48 || img.Size != int64(len(pngData)) ||
		img.URL != e.srv.URL+"/media/images/"+img.ID {
		t.Fatalf("uploaded %+v", img)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "images", img.ID+".png")); err != nil {
		t.Fatal(err)
	}

	// Served publicly with its type, nosniff and a long cache.
	r := e.must(http.StatusOK, "GET", "/media/images/"+img.ID, nil, noAuth)
	if !bytes.Equal(r.Body, pngData) || r.Header.Get("Content-Type") != "image/png" ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Cache-Control"), "max-age=31536000") {
		t.Fatalf("served %d bytes, headers %v", len(r.Body), r.Header)
	}
	e.must(http.StatusNotModified, "GET", "/media/images/"+img.ID, nil, noAuth, withHeader("If-None-Match", `"`+img.ID+`"`))
	e.must(http.StatusNotFound, "GET", "/media/images/0123456789abcdef0123456789abcdef", nil, noAuth).errCode(t)
	e.must(http.StatusNotFound, "GET", "/media/images/..%2f..%2fvitrine.db", nil, noAuth).errCode(t)
	if r := e.must(http.StatusMethodNotAllowed, "DELETE", "/media/images/"+img.ID, nil, noAuth); r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}

	// Multipart, JPEG; the part's declared type may be generic.
	body, ct := multipartBody(t, "file", "photo.jpg", "application/octet-stream", jpegData)
	var jimg imageView
	e.must(http.StatusCreated, "POST", "/api/v1/images", body, withHeader("Content-Type", ct)).decode(t, &jimg)
	if jimg.ContentType != "image/jpeg" || jimg.Width != 64 {
		t.Fatalf("jpeg %+v", jimg)
	}
	r = e.must(http.StatusOK, "GET", "/media/images/"+jimg.ID, nil, noAuth)
	if r.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("jpeg served as %q", r.Header.Get("Content-Type"))
	}

	html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	big := bytes.Repeat([]byte{0}, 6<<20)
	copy(big, pngData)
	bigForm, bigCT := multipartBody(t, "file", "big.png", "image/png", big)
	htmlForm, htmlCT := multipartBody(t, "file", "evil.png", "image/png", html)
	noFile, noFileCT := multipartBody(t, "image", "a.png", "image/png", pngData)
	for _, tc := range []struct {
		name   string
		ct     string
		body   []byte
		status int
		code   string
	}{
		{"html renamed png", "image/png", html, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"html in multipart", htmlCT, htmlForm, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"svg", "image/svg+xml", svg, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"svg declared png", "image/png", svg, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"jpeg declared png", "image/png", jpegData, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"6 MiB raw", "image/png", big, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"6 MiB multipart", bigCT, bigForm, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"png without header", "image/png", pngData[:20], http.StatusUnprocessableEntity, "invalid_image"},
		{"empty", "image/png", []byte{}, http.StatusBadRequest, "invalid_body"},
		{"no file field", noFileCT, noFile, http.StatusBadRequest, "invalid_body"},
		{"json", "application/json", []byte(`{}`), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", "", pngData, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/images", tc.body, withHeader("Content-Type", tc.ct))
			if r.Status != tc.status || r.errCode(t) != tc.code {
				t.Fatalf("status %d, want %d %s: %s", r.Status, tc.status, tc.code, r.Body)
			}
		})
	}
	// Refused uploads leave nothing behind.
	entries, _ := os.ReadDir(filepath.Join(e.dir, "images"))
	if len(entries) != 2 {
		names := []string{}
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Fatalf("image directory holds %v", names)
	}
}

// A pixel bomb: a tiny PNG declaring a huge canvas.
func TestImageTooManyPixels(t *testing.T) {
	e := newEnv(t)
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 20000, 1))); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/images", b.Bytes(), withHeader("Content-Type", "image/png"))
	if r.Status != http.StatusUnprocessableEntity || r.errCode(t) != "invalid_image" {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}
