package web

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/i18n"
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
