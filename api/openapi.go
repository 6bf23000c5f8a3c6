package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func (a *API) openAPIRoute() *route {
	return &route{Method: "GET", Path: openAPIPath, ID: "getOpenAPI", Tag: "Meta", Public: true,
		Summary: "This OpenAPI 3.1 document", Doc: "Public: it documents the API, it grants nothing.",
		Status: http.StatusOK, RespType: "application/json", handle: a.serveOpenAPI}
}

func (a *API) serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*") // documentation viewers on other origins
	_, _ = w.Write(a.openapi)
	return nil
}

const apiDescription = `Vitrine's admin API and viewer endpoints.

Conventions:
- Admin routes (/api/v1) need Authorization: Bearer {admin token}, or the console's session cookie (vitrine_session,
  from POST /api/v1/session); without either they answer 401. A request authenticated by the cookie whose method is
  not GET, HEAD or OPTIONS (or that opens a WebSocket) must carry an Origin header (failing that, a Referer) naming
  this server's own origin (http.public_url, or the request's Host): otherwise 403 csrf_refused. An Authorization
  header, when sent, decides alone.
- JSON bodies must be application/json, UTF-8, one object, at most 1 MiB; unknown fields are refused (400 unknown_field),
  and member names are case-sensitive. Required members must be present and not null: 422 validation_failed names
  every one missing. A PUT replaces the whole resource, so every member of its body is required.
- Lists in responses are always arrays ([] when empty), never null.
- Paths are taken as sent: one with a . or .. segment or a doubled slash answers 404, not a redirect.
- Fields are snake_case; times are RFC 3339 (returned in UTC); ids are opaque strings.
- Money is a decimal string with up to 10 integer and 4 fraction digits, returned canonical with at least
  two decimals ("129" -> "129.00", "1.2340" -> "1.234"), with an ISO 4217 currency.
- Durations (notify_before_start) are Go duration strings: "30m", "1h30m"; returned as "30m0s".
- Lists take limit (1-200, default 50) and cursor and return {"items": [...], "next_cursor": ""}.
- Errors are {"error": {"code": "...", "message": "...", "fields": [{"field", "message"}]}}; fields only on
  validation errors. 4xx is the caller's; a 500 is a bug (its request_id is in the body and the X-Request-Id header).
- Campaign status is derived: upcoming, ongoing (live), ended (live ended before its end time), completed
  (end time passed). Only upcoming and ended campaigns can be edited or deleted (409 campaign_not_editable).
- Campaign changes are optimistic: a change that loses a race with another change of the same campaign (say a
  go-live on another node) is re-applied on the fresh campaign, its state rules checked again; if the campaign
  keeps changing, 409 campaign_changed: read it and try again.
- Rate limits per client address: 429 rate_limited with Retry-After and the JSON error, for failed admin
  authentications (20 per minute by default; an address past it is refused on every admin route until its
  bucket refills) and for the public reminder route (10 per minute).`

// errorCodes says which error codes each status carries, for the document.
var errorCodes = map[int]string{
	http.StatusBadRequest: "Malformed request: invalid_json, unknown_field, invalid_body, invalid_parameter, " +
		"unknown_parameter, invalid_cursor, invalid_idempotency_key.",
	http.StatusUnauthorized: "unauthorized: missing or wrong admin token.",
	http.StatusForbidden: "csrf_refused: a request authenticated by the session cookie without this server's Origin " +
		"(or Referer); or the route's own refusal.",
	http.StatusNotFound:              "not_found.",
	http.StatusConflict:              "Refused in the resource's current state: duplicate_sku, duplicate_code, campaign_not_editable, campaign_completed, campaign_not_live, campaign_not_live_yet, campaign_changed, duplicate_order_code, image_in_use.",
	http.StatusRequestEntityTooLarge: "body_too_large.",
	http.StatusUnsupportedMediaType:  "unsupported_media_type.",
	http.StatusUnprocessableEntity:   "validation_failed (with fields), invalid_image, idempotency_key_reused.",
	http.StatusTooManyRequests: "rate_limited: too many requests (or, on admin routes, failed authentications) " +
		"from this client address; retry after Retry-After seconds.",
}

var pathParamPattern = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

func (a *API) buildOpenAPI() ([]byte, error) {
	g := newSchemaGen()
	errRef := map[string]any{"$ref": "#/components/schemas/ErrorBody"}
	if _, err := g.schema(errorBody{}, true); err != nil {
		return nil, err
	}
	errResp := func(status int) map[string]any {
		desc := errorCodes[status]
		if desc == "" {
			desc = http.StatusText(status)
		}
		resp := map[string]any{"description": desc,
			"content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		if status == http.StatusTooManyRequests {
			resp["headers"] = map[string]any{"Retry-After": map[string]any{
				"description": "seconds until a request from this address is accepted again",
				"schema":      map[string]any{"type": "integer", "minimum": 1}}}
		}
		return resp
	}

	paths := map[string]map[string]any{}
	var tags []string
	for _, rt := range a.routes {
		op, err := a.operation(g, rt, errResp)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
		if !slices.Contains(tags, rt.Tag) {
			tags = append(tags, rt.Tag)
		}
	}
	tagList := make([]map[string]any, len(tags))
	for i, t := range tags {
		tagList[i] = map[string]any{"name": t}
	}

	webhooks := map[string]any{}
	for _, ev := range EventTypes {
		es := eventSchemas[ev]
		data, err := g.schema(es.data, true)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", ev, err)
		}
		webhooks[ev] = map[string]any{"post": map[string]any{
			"operationId": "webhook_" + strings.ReplaceAll(ev, ".", "_"),
			"summary":     es.summary,
			"description": "POSTed to subscribed endpoints, signed the Standard Webhooks way; any 2xx acknowledges, anything else is retried with backoff.",
			"parameters": []any{
				map[string]any{"name": "webhook-id", "in": "header", "required": true, "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "webhook-timestamp", "in": "header", "required": true, "schema": map[string]any{"type": "string"}, "description": "Unix seconds"},
				map[string]any{"name": "webhook-signature", "in": "header", "required": true, "schema": map[string]any{"type": "string"}, "description": "v1,{base64 HMAC-SHA256 of id.timestamp.body}"},
			},
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"type": "object", "required": []string{"type", "timestamp", "data"},
					"properties": map[string]any{
						"type":      map[string]any{"const": ev},
						"timestamp": map[string]any{"type": "string", "format": "date-time"},
						"data":      data,
					}}}}},
			"responses": map[string]any{"2XX": map[string]any{"description": "received"}},
		}}
	}

	doc := map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{
			"title":       "Vitrine",
			"version":     "1.0.0",
			"description": apiDescription,
			"license":     map[string]any{"name": "see the repository"},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}},
		"tags":     tagList,
		"paths":    paths,
		"webhooks": webhooks,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{
					"type": "http", "scheme": "bearer",
					"description": "The admin token (VITRINE_ADMIN_TOKEN, config, or generated at first start).",
				},
				"session": map[string]any{
					"type": "apiKey", "in": "cookie", "name": SessionCookie,
					"description": "The seller's console session, set by POST /api/v1/session (HttpOnly, SameSite=Strict). " +
						"Requests other than GET, HEAD and OPTIONS, and WebSocket upgrades, must carry this server's " +
						"Origin (or Referer): otherwise 403 csrf_refused.",
				},
			},
			"schemas": g.components,
		},
	}
	if a.publicURL != nil {
		doc["servers"] = []any{map[string]any{"url": a.publicURL.String()}}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (a *API) operation(g *schemaGen, rt *route, errResp func(int) map[string]any) (map[string]any, error) {
	op := map[string]any{"operationId": rt.ID, "summary": rt.Summary, "tags": []string{rt.Tag}}
	if rt.Doc != "" {
		op["description"] = rt.Doc
	}
	if rt.Public {
		op["security"] = []any{}
	}

	var params []any
	for _, m := range pathParamPattern.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"schema": map[string]any{"type": "string"}})
	}
	for _, in := range []struct {
		where string
		ps    []param
	}{{"query", rt.Query}, {"header", rt.Header}} {
		for _, p := range in.ps {
			s := map[string]any{"type": p.Type}
			if p.Format != "" {
				s["format"] = p.Format
			}
			if len(p.Enum) > 0 {
				s["enum"] = p.Enum
			}
			if p.Max > 0 {
				s["minimum"], s["maximum"] = p.Min, p.Max
			}
			if p.Pattern != "" {
				s["pattern"] = p.Pattern
			}
			if p.MaxLength > 0 {
				s["maxLength"] = p.MaxLength
			}
			pm := map[string]any{"name": p.Name, "in": in.where, "schema": s}
			if p.Doc != "" {
				pm["description"] = p.Doc
			}
			if p.Required {
				pm["required"] = true
			}
			params = append(params, pm)
		}
	}
	if len(params) > 0 {
		op["parameters"] = params
	}

	errs := map[int]bool{}
	if !rt.Public {
		errs[http.StatusUnauthorized] = true
		if a.authLimit != nil {
			errs[http.StatusTooManyRequests] = true
		}
		if !safeMethod(rt.Method) {
			errs[http.StatusForbidden] = true // csrf_refused, with the session cookie
		}
	}
	if rt.Limit != nil {
		errs[http.StatusTooManyRequests] = true
	}
	if strings.Contains(rt.Path, "{") {
		errs[http.StatusNotFound] = true
	}
	// checkQuery refuses undeclared query parameters on admin routes.
	if !rt.Public || len(rt.Query) > 0 || len(rt.Header) > 0 {
		errs[http.StatusBadRequest] = true
	}
	if rt.Body != nil {
		for _, s := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity} {
			errs[s] = true
		}
		body, err := requestBody(g, rt)
		if err != nil {
			return nil, err
		}
		op["requestBody"] = body
	}

	responses := map[string]any{}
	success, err := successResponse(g, rt)
	if err != nil {
		return nil, err
	}
	responses[strconv.Itoa(rt.Status)] = success
	for _, s := range rt.Errors {
		if s < 400 {
			alt := map[string]any{}
			for k, v := range success {
				alt[k] = v
			}
			alt["description"] = "A repeat: the original, unchanged."
			if rt.RepeatDoc != "" {
				alt["description"] = rt.RepeatDoc
			}
			responses[strconv.Itoa(s)] = alt
			continue
		}
		errs[s] = true
	}
	for s := range errs {
		responses[strconv.Itoa(s)] = errResp(s)
	}
	// Every status the route table implies is listed above; a 500 is a
	// bug, but any operation can have one.
	responses[strconv.Itoa(http.StatusInternalServerError)] = map[string]any{"description": "internal_error: a bug; the body carries the request_id.",
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorBody"}}}}
	op["responses"] = responses
	return op, nil
}

func requestBody(g *schemaGen, rt *route) (map[string]any, error) {
	if rt.BodyKind == bodyImage {
		content := map[string]any{
			"multipart/form-data": map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"file"},
				"properties": map[string]any{"file": map[string]any{"type": "string", "contentMediaType": "application/octet-stream",
					"description": "the image; at most 5 MiB"}},
			}},
		}
		for ct := range imageTypes {
			content[ct] = map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": ct}}
		}
		return map[string]any{"required": true, "content": content}, nil
	}
	s, err := g.schema(rt.Body, false)
	if err != nil {
		return nil, err
	}
	content := map[string]any{"application/json": map[string]any{"schema": s}}
	if rt.FormBody {
		content["application/x-www-form-urlencoded"] = map[string]any{"schema": s}
	}
	return map[string]any{"required": !rt.BodyOptional, "content": content}, nil
}

func successResponse(g *schemaGen, rt *route) (map[string]any, error) {
	desc := http.StatusText(rt.Status)
	switch {
	case rt.Response != nil:
		s, err := g.schema(rt.Response, true)
		if err != nil {
			return nil, err
		}
		return map[string]any{"description": desc,
			"content": map[string]any{"application/json": map[string]any{"schema": s}}}, nil
	case rt.RespType == "application/json":
		return map[string]any{"description": desc,
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}, nil
	case rt.RespType != "":
		return map[string]any{"description": desc,
			"content": map[string]any{rt.RespType: map[string]any{"schema": map[string]any{"type": "string"}}}}, nil
	}
	return map[string]any{"description": desc}, nil
}
