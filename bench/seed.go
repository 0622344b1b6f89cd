package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// seedWords make titles, descriptions and tags that keyword searches hit
// at different rates, in Chinese and English.
var (
	seedZh = []string{"示例视频", "旅行", "日落", "猫咪", "美食", "纪录片", "音乐会", "山川", "城市夜景", "家庭聚会",
		"生日", "海边", "雪山", "科幻", "动作", "教程", "编程", "篮球", "足球", "春节"}
	seedEn = []string{"sunset", "travel", "holiday", "concert", "kitchen", "garden", "mountain", "birthday", "tutorial",
		"football", "review", "timelapse", "drone", "family", "wedding", "street", "night", "river", "forest", "ocean"}
)

// Seed inserts n published videos owned by userID straight into the
// database at dbPath (the server must be stopped), spread over ten
// categories it creates, in one transaction. The FTS triggers of the
// migrations index them as they go in.
func Seed(ctx context.Context, dbPath string, n int, userID int64) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	var cats []int64
	for i := 0; i < 10; i++ {
		res, err := tx.ExecContext(ctx, "INSERT INTO categories(name, parent_id, sort, created_at, updated_at) VALUES (?, 0, ?, ?, ?)",
			fmt.Sprintf("seed-%d-%s", i, seedZh[i]), i, now, now)
		if err != nil {
			return fmt.Errorf("seed categories: %w", err)
		}
		id, _ := res.LastInsertId()
		cats = append(cats, id)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO videos(user_id, title, description, category_id, tags, status,
		transcode_status, source_name, file_size, duration, width, height, resolution, playable, views, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 1, 'completed', ?, ?, ?, 1920, 1080, '1080p', 1, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer stmt.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(words []string) string { return words[rng.IntN(len(words))] }
	for i := 0; i < n; i++ {
		title := fmt.Sprintf("%s %s %s %d", pick(seedZh), pick(seedEn), pick(seedZh), i)
		desc := fmt.Sprintf("%s of the %s, %s%s。", pick(seedEn), pick(seedEn), pick(seedZh), pick(seedZh))
		tags, _ := json.Marshal([]string{pick(seedZh), pick(seedEn)})
		created := now - int64(n-i)*60
		if _, err := stmt.ExecContext(ctx, userID, title, desc, cats[rng.IntN(len(cats))], string(tags),
			fmt.Sprintf("seed-%d.mp4", i), 50_000_000+rng.Int64N(2_000_000_000), 30+rng.Float64()*3600,
			rng.Int64N(100000), created, created); err != nil {
			return fmt.Errorf("seed row %d: %w", i, err)
		}
	}
	// No ANALYZE: a real library never has statistics, and with
	// sqlite_stat4 present modernc's SQLite re-prepares every statement
	// whose range bounds change (the deep-page seek's "id <= ?"), which
	// cost a seventh of the CPU of uncached list pages.
	return tx.Commit()
}

// SeedKeywords are searches over seeded rows: common and rare, Chinese and
// English, short (below a trigram) and matching nothing.
func SeedKeywords() []struct{ Name, Keyword string } {
	return []struct{ Name, Keyword string }{
		{"English word", "sunset"},
		{"Chinese 3+ chars", "城市夜"},
		{"Chinese 2 chars (below a trigram)", "日落"},
		{"no match", "zqxjv"},
		{"row number", strings.Repeat("7", 3)},
	}
}
