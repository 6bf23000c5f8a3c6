package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // checkImage decodes uploads
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "golang.org/x/image/webp" // registers the WebP decoder with image.Decode

	"vitrine/internal/httperr"
)

// Upload limits. The bounds on dimensions, checked from the header before
// anything is decoded, keep decompression bombs away from this server
// (which decodes every upload whole, to refuse a damaged one) and from the
// viewers' browsers, which decode what we serve.
const (
	maxImage          = 5 << 20
	multipartOverhead = 64 << 10
	maxImageSide      = 8192
	maxImagePixels    = 40_000_000
	imageCacheControl = "public, max-age=31536000, immutable"
)

// imageDecodes bounds the uploads decoded at once: a 40-megapixel image
// takes 160 MB (320 MB at 16 bits a channel) while it is checked.
var imageDecodes = make(chan struct{}, 2)

// imageTypes maps the accepted media types to their file extension.
var imageTypes = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/webp": "webp",
	"image/gif":  "gif",
}

var imageExts = map[string]string{"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}

// imageIDPattern is the shape of the ids newImageID makes; anything else
// is a 404 before any file system access.
var imageIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

type imageView struct {
	ID          string    `json:"id" doc:"use it in a campaign's images"`
	URL         string    `json:"url" format:"uri" doc:"public URL of the image"`
	ContentType string    `json:"content_type" enum:"image/jpeg,image/png,image/webp,image/gif"`
	Size        int64     `json:"size" doc:"bytes"`
	Width       int       `json:"width" doc:"pixels"`
	Height      int       `json:"height"`
	CreatedAt   time.Time `json:"created_at" doc:"when it was uploaded"`
}

func (a *API) imageRoutes() []*route {
	return []*route{
		{Method: "POST", Path: "/api/v1/images", ID: "uploadImage", Tag: "Images",
			Summary: "Upload an image",
			Doc: "The body is the image itself (Content-Type image/jpeg, image/png, image/webp or image/gif) " +
				"or a multipart/form-data form with the image in the field `file`. At most 5 MiB. " +
				"The content is sniffed and must be one of those types (SVG and HTML are refused).",
			Body: struct{}{}, BodyKind: bodyImage, Status: http.StatusCreated, Response: imageView{},
			handle: a.uploadImage},
		{Method: "GET", Path: "/api/v1/images", ID: "listImages", Tag: "Images",
			Summary: "List uploaded images", Doc: "Newest first.",
			Query: pageParams, Status: http.StatusOK, Response: listOf(imageView{}), handle: a.listImages},
		{Method: "DELETE", Path: "/api/v1/images/{id}", ID: "deleteImage", Tag: "Images",
			Summary: "Delete an uploaded image",
			Doc: "409 image_in_use while a campaign lists it in its images or a product's image_url is its URL: " +
				"take it out of them first. Its URL then answers 404 (caches may keep it up to a year: it was immutable).",
			Status: http.StatusNoContent, Errors: []int{http.StatusConflict}, handle: a.deleteImage},
		{Method: "GET", Path: "/media/images/{id}", ID: "getImage", Tag: "Images", Public: true,
			Summary: "Download an uploaded image", Doc: "Public and immutable: cached for a year.",
			Status: http.StatusOK, RespType: "image/*", handle: a.serveImage},
	}
}

func unsupportedImage(format string, args ...any) *apiError {
	return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", format, args...)
}

func (a *API) uploadImage(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > maxImage+multipartOverhead {
		return tooLarge(maxImage)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return unsupportedImage("send the image as image/jpeg, image/png, image/webp or image/gif, or as multipart/form-data field \"file\"")
	}
	var src io.Reader
	declared := ""
	httperr.LimitBodyTime(w)
	switch {
	case mt == "multipart/form-data":
		if params["boundary"] == "" {
			return badRequest("invalid_body", "multipart body without boundary")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxImage+multipartOverhead)
		part, err := filePart(multipart.NewReader(r.Body, params["boundary"]))
		if err != nil {
			return err
		}
		defer part.Close()
		src = part
		if pt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type")); err == nil && pt != "application/octet-stream" {
			declared = pt
		}
	case imageTypes[mt] != "":
		r.Body = http.MaxBytesReader(w, r.Body, maxImage)
		src, declared = r.Body, mt
	default:
		return unsupportedImage("%q is not an accepted image type (image/jpeg, image/png, image/webp, image/gif)", mt)
	}

	// Sniff before anything reaches the disk.
	head := make([]byte, 512)
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return uploadReadErr(err)
	}
	head = head[:n]
	if n == 0 {
		return badRequest("invalid_body", "the image is empty")
	}
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	ext := imageTypes[sniffed]
	if ext == "" {
		return unsupportedImage("the content is not a JPEG, PNG, WebP or GIF image (it looks like %s)", sniffed)
	}
	if declared != "" && declared != sniffed {
		return unsupportedImage("the content is %s but was sent as %s", sniffed, declared)
	}

	id, err := newImageID()
	if err != nil {
		return err
	}
	size, width, height, err := a.saveImage(r.Context(), io.MultiReader(bytes.NewReader(head), src), id, ext, sniffed)
	if err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "image uploaded", "image", id, "type", sniffed, "bytes", size,
		"request_id", requestIDFrom(r.Context()))
	created := time.Now().UTC()
	if fi, err := os.Stat(filepath.Join(a.imageDir, id+"."+ext)); err == nil {
		created = fi.ModTime().UTC() // what the list says
	}
	return writeJSON(w, http.StatusCreated, imageView{ID: id, URL: a.links(r).image(id),
		ContentType: sniffed, Size: size, Width: width, Height: height, CreatedAt: created})
}

// filePart finds the form field "file", skipping (and bounding) others.
func filePart(mr *multipart.Reader) (*multipart.Part, error) {
	for range 16 {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, uploadReadErr(err)
		}
		if part.FormName() == "file" {
			return part, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(part, maxImage))
		part.Close()
	}
	return nil, badRequest("invalid_body", "the multipart form has no field \"file\"")
}

func uploadReadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(maxImage)
	}
	return badRequest("invalid_body", "the upload could not be read: %s", clip(err.Error()))
}

// saveImage writes the image to a temporary file in the image directory,
// checks its size, its dimensions and its content (checkImage), then syncs and renames it into place so
// that a crash never leaves a partial image under a valid id.
func (a *API) saveImage(ctx context.Context, src io.Reader, id, ext, contentType string) (size int64, width, height int, err error) {
	tmp, err := os.CreateTemp(a.imageDir, ".upload-*")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("create temp image: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	size, err = io.Copy(tmp, io.LimitReader(src, maxImage+1))
	if err != nil {
		return 0, 0, 0, uploadReadErr(err)
	}
	if size > maxImage {
		return 0, 0, 0, tooLarge(maxImage)
	}
	if width, height, err = checkImage(ctx, tmp, size, contentType); err != nil {
		return 0, 0, 0, err
	}
	if err = tmp.Sync(); err != nil {
		return 0, 0, 0, fmt.Errorf("sync image: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return 0, 0, 0, fmt.Errorf("close image: %w", err)
	}
	if err = os.Chmod(tmp.Name(), 0o640); err != nil {
		return 0, 0, 0, fmt.Errorf("chmod image: %w", err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(a.imageDir, id+"."+ext)); err != nil {
		return 0, 0, 0, fmt.Errorf("store image: %w", err)
	}
	syncDir(a.imageDir)
	return size, width, height, nil
}

func invalidImage(format string, args ...any) *apiError {
	return errorf(http.StatusUnprocessableEntity, "invalid_image", format, args...)
}

var imageNames = map[string]string{"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP"}

// checkImage reads the dimensions from the header of the image in f (size
// bytes, sniffed as contentType), refuses them past the bounds, then
// decodes the whole image, so that a truncated file or damaged pixel data
// is refused here rather than shown broken to viewers. GIF: the first
// frame is decoded (all of an animation could take far more memory than
// its file suggests). WebP: its header and the RIFF container's length are
// checked first (webpConfig), then it is decoded (golang.org/x/image/webp).
func checkImage(ctx context.Context, f io.ReadSeeker, size int64, contentType string) (width, height int, err error) {
	name := imageNames[contentType]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("rewind image: %w", err)
	}
	var cfg image.Config
	if contentType == "image/webp" {
		cfg, err = webpConfig(f, size)
	} else {
		var format string
		cfg, format, err = image.DecodeConfig(f)
		if err == nil && "image/"+format != contentType {
			err = fmt.Errorf("decoded as %s", format)
		}
	}
	if err != nil {
		return 0, 0, invalidImage("the file is not a valid %s image: its header is %s", name, imageErrText(err))
	}
	width, height = cfg.Width, cfg.Height
	if width <= 0 || height <= 0 || width > maxImageSide || height > maxImageSide || int64(width)*int64(height) > maxImagePixels {
		return 0, 0, invalidImage("the image is %dx%d pixels; at most %d pixels a side and %d megapixels in all",
			width, height, maxImageSide, maxImagePixels/1_000_000)
	}
	select {
	case imageDecodes <- struct{}{}:
		defer func() { <-imageDecodes }()
	case <-ctx.Done():
		return 0, 0, errorf(http.StatusServiceUnavailable, "busy", "the upload was abandoned while waiting to be checked")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("rewind image: %w", err)
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return 0, 0, invalidImage("the %s image cannot be decoded: it is %s", name, imageErrText(err))
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		return 0, 0, invalidImage("the %s image's pixels (%dx%d) do not match its header (%dx%d)", name, b.Dx(), b.Dy(), width, height)
	}
	return width, height, nil
}

// imageErrText says what a decoder's error means for the uploader.
func imageErrText(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "truncated (the file ends early)"
	}
	if strings.Contains(err.Error(), "not enough pixel data") {
		return "truncated or damaged (" + clip(err.Error()) + ")"
	}
	return "corrupt (" + clip(err.Error()) + ")"
}

// webpConfig reads a WebP file's dimensions from its first chunk (VP8,
// VP8L or VP8X) and checks that the RIFF container is whole: a file cut
// short is refused even though its pixels cannot be decoded here.
func webpConfig(r io.Reader, size int64) (image.Config, error) {
	var h [30]byte
	n, err := io.ReadFull(r, h[:])
	if err != nil && n < 25 {
		return image.Config{}, io.ErrUnexpectedEOF
	}
	if string(h[0:4]) != "RIFF" || string(h[8:12]) != "WEBP" {
		return image.Config{}, errors.New("not a RIFF WEBP container")
	}
	riff := int64(binary.LittleEndian.Uint32(h[4:8])) + 8
	chunk := int64(binary.LittleEndian.Uint32(h[16:20]))
	switch {
	case riff > size:
		return image.Config{}, io.ErrUnexpectedEOF
	case riff < size:
		return image.Config{}, fmt.Errorf("%d bytes after the RIFF container", size-riff)
	case 20+chunk > riff:
		return image.Config{}, io.ErrUnexpectedEOF
	}
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	cfg := image.Config{}
	switch string(h[12:16]) {
	case "VP8X":
		if n < 30 || chunk < 10 {
			return image.Config{}, io.ErrUnexpectedEOF
		}
		cfg.Width, cfg.Height = u24(h[24:27])+1, u24(h[27:30])+1
	case "VP8L":
		if h[20] != 0x2f {
			return image.Config{}, errors.New("bad VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(h[21:25])
		cfg.Width, cfg.Height = int(bits&0x3fff)+1, int(bits>>14&0x3fff)+1
	case "VP8 ":
		if n < 30 || chunk < 10 {
			return image.Config{}, io.ErrUnexpectedEOF
		}
		if h[23] != 0x9d || h[24] != 0x01 || h[25] != 0x2a {
			return image.Config{}, errors.New("bad VP8 start code")
		}
		cfg.Width = int(binary.LittleEndian.Uint16(h[26:28]) & 0x3fff)
		cfg.Height = int(binary.LittleEndian.Uint16(h[28:30]) & 0x3fff)
	default:
		return image.Config{}, fmt.Errorf("unknown first chunk %q", h[12:16])
	}
	return cfg, nil
}

// syncDir makes a rename durable. Some file systems refuse to sync a
// directory; the image is then as durable as they allow.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func newImageID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("image id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// imagePath finds the file of an image id; "" when there is none.
func (a *API) imagePath(id string) (path, contentType string) {
	if !imageIDPattern.MatchString(id) {
		return "", ""
	}
	for ext, ct := range imageExts {
		p := filepath.Join(a.imageDir, id+"."+ext)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, ct
		}
	}
	return "", ""
}

func (a *API) serveImage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	path, ct := a.imagePath(id)
	if path == "" {
		return errorf(http.StatusNotFound, "not_found", "no such image")
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errorf(http.StatusNotFound, "not_found", "no such image")
		}
		return fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat image: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", imageCacheControl)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", `"`+id+`"`)
	http.ServeContent(w, r, "", fi.ModTime().UTC().Truncate(time.Second), f)
	return nil
}
