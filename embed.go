package main

import (
	"embed"
	"io/fs"
)

// The SPA is built into ui/dist by `make ui`; only ui/dist/.gitkeep is
// committed, so a clean clone still builds and serves a "UI not built" page.
//
//go:embed all:ui/dist
var uiFiles embed.FS

//go:embed migrations/*.sql
var migrationFiles embed.FS

func uiFS() fs.FS {
	sub, err := fs.Sub(uiFiles, "ui/dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}

func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}
