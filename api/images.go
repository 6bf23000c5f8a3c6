package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig of uploads
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"vitrine/internal/httperr"
)

// Upload limits. The pixel bound keeps decompression bombs away from the
// viewers' browsers, which decode what we serve.
const (
	maxImage          = 5 << 20
	multipartOverhead = 64 << 10
	maxImageSide      = 16384
	maxImagePixels    = 50_000_000
	imageCacheControl = "public, max-age=31536000, immutable"
)

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
	ID          string `json:"id" doc:"use it in a campaign's images"`
	URL         string `json:"url" format:"uri" doc:"public URL of the image"`
	ContentType string `json:"content_type" enum:"image/jpeg,image/png,image/webp,image/gif"`
	Size        int64  `json:"size" doc:"bytes"`
	Width       int    `json:"width" doc:"pixels; 0 when not measured (WebP)"`
	Height      int    `json:"height"`
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
	size, width, height, err := a.saveImage(io.MultiReader(bytes.NewReader(head), src), id, ext, sniffed)
	if err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "image uploaded", "image", id, "type", sniffed, "bytes", size,
		"request_id", requestIDFrom(r.Context()))
	return writeJSON(w, http.StatusCreated, imageView{ID: id, URL: a.links(r).image(id),
		ContentType: sniffed, Size: size, Width: width, Height: height})
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
// checks its size and dimensions, then syncs and renames it into place so
// that a crash never leaves a partial image under a valid id.
func (a *API) saveImage(src io.Reader, id, ext, contentType string) (size int64, width, height int, err error) {
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
	if contentType != "image/webp" { // no WebP decoder in the standard library
		if _, err = tmp.Seek(0, io.SeekStart); err != nil {
			return 0, 0, 0, fmt.Errorf("rewind image: %w", err)
		}
		cfg, format, derr := image.DecodeConfig(tmp)
		if derr != nil || "image/"+format != contentType {
			err = errorf(http.StatusUnprocessableEntity, "invalid_image", "the file is not a valid %s image", ext)
			return 0, 0, 0, err
		}
		width, height = cfg.Width, cfg.Height
		if width <= 0 || height <= 0 || width > maxImageSide || height > maxImageSide || width*height > maxImagePixels {
			err = errorf(http.StatusUnprocessableEntity, "invalid_image",
				"the image is %dx%d; at most %d pixels a side and %d pixels in all", width, height, maxImageSide, maxImagePixels)
			return 0, 0, 0, err
		}
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
