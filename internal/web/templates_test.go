package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/settings"
)

// TestTemplateKeysExist checks that every literal key a template translates
// is in both catalogues, and that every error code has its sentence.
func TestTemplateKeysExist(t *testing.T) {
	re := regexp.MustCompile(`\bt "([a-z0-9_.\-]+)"`)
	found := 0
	fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := templateFS.ReadFile(path)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			found++
			for _, l := range i18n.Langs {
				if !i18n.Has(l, m[1]) {
					t.Errorf("%s uses %q, missing in %s", path, m[1], l)
				}
			}
		}
		return nil
	})
	if found < 20 {
		t.Fatalf("found only %d translated keys in templates", found)
	}
	for _, code := range []string{"invalid", "internal", "not_found", "unauthorized", "forbidden", "conflict", "too_many", "unavailable"} {
		if !i18n.Has(i18n.En, "error."+code) || !i18n.Has(i18n.ZhCN, "error."+code) {
			t.Errorf("no sentence for error code %s", code)
		}
	}
	dynamic := []string{}
	for _, r := range auth.Roles {
		dynamic = append(dynamic, "role."+string(r))
	}
	for _, l := range i18n.Langs {
		dynamic = append(dynamic, "lang."+string(l))
	}
	for _, st := range rivertype.JobStates() {
		dynamic = append(dynamic, "jobstate."+string(st))
	}
	for _, key := range dynamic {
		if !i18n.Has(i18n.En, key) || !i18n.Has(i18n.ZhCN, key) {
			t.Errorf("missing %s", key)
		}
	}
	// Keys the handlers translate.
	goKeys := 0
	goKey := regexp.MustCompile(`(?:invalid\(r, |i18n\.T\([^,]+, )"([a-z0-9_.\-]+)"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			dynamic = append(dynamic, m[1])
			goKeys++
		}
	}
	if goKeys < 10 {
		t.Fatalf("found only %d translated keys in handlers", goKeys)
	}
	// Keys the WeCom pages build from values.
	for _, keys := range []map[int]string{genderKeys, ctypeKeys, addWayKeys} {
		for _, k := range keys {
			dynamic = append(dynamic, k)
		}
	}
	dynamic = append(dynamic, "gender.other", "ctype.other", "addway.other", "sync.trigger.other",
		"customer.status."+customer.FollowActive, "customer.status."+customer.FollowDeletedByMember, "customer.status."+customer.FollowDeletedByCustomer)
	for _, st := range []consent.Status{consent.StatusNone, consent.StatusGranted, consent.StatusExpired, consent.StatusWithdrawn, consent.StatusRefused} {
		dynamic = append(dynamic, "consent.status."+string(st))
	}
	for _, a := range []consent.Action{consent.Grant, consent.Withdraw, consent.Refuse} {
		dynamic = append(dynamic, "consent.action."+string(a))
	}
	for _, src := range []consent.Source{consent.SourceCustomer, consent.SourceImport, consent.SourceOptOutReply, consent.SourceOneClick,
		consent.SourceUnsubscribeLink, consent.SourceMemberDeleted, consent.SourceConsole, consent.SourceAPI} {
		dynamic = append(dynamic, "consent.source."+string(src))
	}
	for _, st := range eventStatuses {
		dynamic = append(dynamic, "events.status."+st)
	}
	for _, st := range []string{"running", "done", "failed"} {
		dynamic = append(dynamic, "sync.run."+st)
	}
	for tr := range syncTriggers {
		dynamic = append(dynamic, "sync.trigger."+tr)
	}
	for _, d := range []string{"created", "renamed", "deleted"} {
		dynamic = append(dynamic, "tags.done."+d)
	}
	for _, f := range wecomFields(settings.WeCom{}, nil) {
		dynamic = append(dynamic, "settings."+f.Name, "settings."+f.Name+".help")
	}
	for _, key := range dynamic {
		if !i18n.Has(i18n.En, key) || !i18n.Has(i18n.ZhCN, key) {
			t.Errorf("missing %s", key)
		}
	}
	for key := range passwordErrorKeysByName() {
		if !i18n.Has(i18n.En, key) || !i18n.Has(i18n.ZhCN, key) {
			t.Errorf("missing %s", key)
		}
	}
}

func passwordErrorKeysByName() map[string]bool {
	m := map[string]bool{"password.error.mismatch": true, "login.error.bad": true, "login.error.toomany": true}
	for _, k := range passwordErrorKeys {
		m[k] = true
	}
	return m
}
