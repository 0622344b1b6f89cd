// Command seed fills a stopped Mika's database with published videos for
// list and search measurements:
//
//	go run ./bench/cmd/seed --db data/mika.db --n 200000
//
// The server must have started once on that data folder (so the schema
// exists) and must be stopped while seeding.
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"mika/bench"
)

func main() {
	db := flag.String("db", "data/mika.db", "the database file")
	n := flag.Int("n", 200000, "videos to insert")
	user := flag.Int64("user", 1, "owner of the videos")
	flag.Parse()
	t0 := time.Now()
	if err := bench.Seed(context.Background(), *db, *n, *user); err != nil {
		log.Fatal(err)
	}
	log.Printf("inserted %d videos into %s in %s", *n, *db, time.Since(t0).Round(time.Millisecond))
}
