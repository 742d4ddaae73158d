package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// syncerFor builds the WeCom syncer of an opened instance.
func syncerFor(a *app.App) (*wecomsync.Syncer, error) {
	if a.Keys == nil {
		return nil, errors.New("this instance has no secrets yet, so its WeCom settings cannot be read; start it once with kith serve")
	}
	sealer, err := fieldcrypt.New(a.Keys.Field)
	if err != nil {
		return nil, err
	}
	st := settings.NewStore(a.DB, sealer, a.Clock, a.Config.WeComEnv)
	conn := wecomsync.NewConn(st, &http.Client{}, a.Log)
	protector, err := protect.New(a.Keys.Field, a.Keys.BlindIndex)
	if err != nil {
		return nil, err
	}
	syncer := wecomsync.NewSyncer(a.DB, conn, a.Clock, a.Log)
	syncer.UseProtector(protector)
	syncer.UseLedger(consent.NewLedger(a.DB.R, a.Keys.BlindIndex).UseIndexer(protector))
	return syncer, nil
}

func cmdSync(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := openData(ctx, "sync", args, stdout, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := syncerFor(a)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Syncing members, corp tags and customers from WeCom…")
	run, err := s.FullSync(ctx, "cli", func(r wecomsync.Run) {
		fmt.Fprintf(stdout, "  %d members, %d tags, %d relations\n", r.Members, r.Tags, r.Relations)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Done: %d members, %d tags, %d relations, %d relations found ended.\n", run.Members, run.Tags, run.Relations, run.Ended)
	return nil
}
