package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// newCampaign makes what a broadcast run needs on a fresh server, through
// the admin API (-stream new): a product, a published campaign holding it
// whose window is now to two hours on, gone live. It returns the
// campaign's id.
func newCampaign(ctx context.Context, server, token string) (string, error) {
	call := func(method, path string, body, out any) error {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, server+"/api/v1"+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if res.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s %s", method, path, res.Status, data)
		}
		return json.Unmarshal(data, out)
	}
	var product, campaign struct{ ID string }
	if err := call("POST", "/products", map[string]any{"sku": fmt.Sprintf("LOAD-%d", time.Now().UnixNano()),
		"name": "Leather bag", "category": "bags", "price": "129.00", "currency": "EUR", "stock": 10,
		"url": "https://shop.example.com/bag"}, &product); err != nil {
		return "", err
	}
	now := time.Now().UTC()
	if err := call("POST", "/campaigns", map[string]any{"title": "Load run", "visibility": "suggested", "published": true,
		"starts_at": now.Format(time.RFC3339), "ends_at": now.Add(2 * time.Hour).Format(time.RFC3339),
		"product_ids": []string{product.ID}}, &campaign); err != nil {
		return "", err
	}
	if err := call("POST", "/campaigns/"+campaign.ID+"/live", nil, &struct{}{}); err != nil {
		return "", err
	}
	return campaign.ID, nil
}
