package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
)

// Settings are the appliance's runtime settings (SPEC §8). They live in the
// settings table, one JSON value per key; a missing key takes its default.
// Validation of values lives with the HTTP layer that accepts them.
type Settings struct {
	SiteName             string `json:"site_name"`
	SiteURL              string `json:"site_url"`
	RegisterMode         string `json:"register_mode"` // open | invite | closed
	AutoPublish          bool   `json:"auto_publish"`
	TranscodeConcurrency int    `json:"transcode_concurrency"`
	Ladder               []int  `json:"ladder"`
	HLSSegmentSeconds    int    `json:"hls_segment_seconds"`
	VideoPreset          string `json:"video_preset"`
	HWAccel              string `json:"hwaccel"`
	MaxUploadBytes       int64  `json:"max_upload_bytes"`
	RateLimitRPS         int    `json:"rate_limit_rps"`
	RateLimitBurst       int    `json:"rate_limit_burst"`
	WebhookURL           string `json:"webhook_url"`
	WebhookSecret        string `json:"webhook_secret"`
}

// DefaultSettings are the values a fresh install starts with.
func DefaultSettings() Settings {
	return Settings{
		SiteName:             "Mika",
		RegisterMode:         "open",
		AutoPublish:          true,
		TranscodeConcurrency: 1,
		Ladder:               []int{1080, 720, 480, 360},
		HLSSegmentSeconds:    6,
		VideoPreset:          "veryfast",
		HWAccel:              "none",
		RateLimitRPS:         20,
		RateLimitBurst:       40,
	}
}

type settingsCache struct {
	mu sync.RWMutex
	s  Settings
}

func loadSettings(ctx context.Context, db *sql.DB) (*settingsCache, error) {
	s := DefaultSettings()
	rows, err := db.QueryContext(ctx, "SELECT key, value FROM settings")
	if err != nil {
		return nil, fmt.Errorf("load settings: %w", err)
	}
	defer rows.Close()
	raw := map[string]json.RawMessage{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		raw[k] = json.RawMessage(v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(raw) > 0 {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("decode settings: %w", err)
		}
	}
	return &settingsCache{s: s}, nil
}

// Settings returns the current settings (a copy; cheap, no I/O).
func (s *Store) Settings() Settings {
	s.settings.mu.RLock()
	defer s.settings.mu.RUnlock()
	c := s.settings.s
	c.Ladder = append([]int(nil), c.Ladder...)
	return c
}

// SaveSettings stores every key of next in one transaction and makes it the
// current settings. Callers validate first.
func (s *Store) SaveSettings(ctx context.Context, next Settings) error {
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	var kv map[string]json.RawMessage
	if err := json.Unmarshal(b, &kv); err != nil {
		return err
	}
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range kv {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
				k, string(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	next.Ladder = append([]int(nil), next.Ladder...)
	s.settings.s = next
	return nil
}

// SetMeta stores value under key in the meta table, replacing any earlier.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.write.ExecContext(ctx,
		"INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}
