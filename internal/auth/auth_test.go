package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// fastParams keeps tests quick; production uses DefaultHashParams.
var fastParams = auth.HashParams{Memory: 1024, Time: 1, Threads: 1}

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newService(db *store.DB) (*auth.Service, *kith.FixedClock) {
	clock := kith.NewFixedClock(t0)
	return auth.NewService(db, clock, fastParams, slog.New(slog.NewTextHandler(io.Discard, nil))), clock
}

func mustUser(t *testing.T, s *auth.Service, name string, role auth.Role) *auth.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), auth.NewUser{Username: name, Role: role, Password: "a long password 1"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordHashFormatAndVerify(t *testing.T) {
	h, err := auth.HashPassword("secret password", auth.DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Fatalf("hash %q is not argon2id with the default parameters", h)
	}
	h2, _ := auth.HashPassword("secret password", auth.DefaultHashParams)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"secret password": true, "secret passwore": false, "": false} {
		ok, err := auth.VerifyPassword(pw, h)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=1024,t=1,p=1$!!$AA"} {
		if _, err := auth.VerifyPassword("x", bad); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	if _, err := auth.ParseRole("bogus"); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), "auditor") {
		t.Fatalf("ParseRole(bogus) = %v", err)
	}
	if !auth.RoleOwner.Can(auth.PermRunJobChecks) || auth.RoleAgent.Can(auth.PermRunJobChecks) || auth.RoleAuditor.Can(auth.PermViewMetrics) {
		t.Fatal("grants are wrong")
	}
	for _, r := range auth.Roles {
		if !r.Can(auth.PermViewStatus) {
			t.Errorf("%s cannot see the dashboard", r)
		}
	}
	var nobody *auth.Principal
	if nobody.Can(auth.PermViewStatus) {
		t.Fatal("a nil principal holds a permission")
	}
}

func TestUsersAndAuthentication(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		mustUser(t, s, "alice", auth.RoleOperator)
		if _, err := s.CreateUser(ctx, auth.NewUser{Username: "alice", Role: auth.RoleAgent, Password: "another long pw"}); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Fatalf("duplicate user: %v", err)
		}
		for _, nu := range []auth.NewUser{
			{Username: "Bob Smith", Role: auth.RoleAgent, Password: "a long password 1"},
			{Username: "bob", Role: "king", Password: "a long password 1"},
			{Username: "bob", Role: auth.RoleAgent, Password: "short"},
		} {
			if _, err := s.CreateUser(ctx, nu); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("CreateUser(%+v) = %v, want EINVALID", nu, err)
			}
		}
		u, err := s.Authenticate(ctx, " Alice ", "a long password 1", "10.0.0.1")
		if err != nil || u.Username != "alice" || u.Role != auth.RoleOperator || u.LastLoginAt == nil {
			t.Fatalf("Authenticate: %+v %v", u, err)
		}
		if _, err := s.Authenticate(ctx, "alice", "wrong", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "nobody", "wrong", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestSignInRateLimit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clock := newService(db)
		mustUser(t, s, "alice", auth.RoleAgent)
		for i := range 5 {
			if _, err := s.Authenticate(ctx, "alice", "guess", "10.0.0.2"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		// Locked: even the right password is refused without being checked.
		if _, err := s.Authenticate(ctx, "alice", "a long password 1", "10.0.0.3"); kith.ErrorCode(err) != kith.ETOOMANY {
			t.Fatalf("after 5 failures: %v, want ETOOMANY", err)
		}
		clock.Add(16 * time.Minute)
		if _, err := s.Authenticate(ctx, "alice", "a long password 1", "10.0.0.3"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		// One address guessing many user names is stopped too.
		for i := range 20 {
			s.Authenticate(ctx, "user"+string(rune('a'+i)), "guess", "10.0.0.9")
		}
		if _, err := s.Authenticate(ctx, "alice", "a long password 1", "10.0.0.9"); kith.ErrorCode(err) != kith.ETOOMANY {
			t.Fatalf("after 20 failures from one address: %v", err)
		}
		if _, err := s.Authenticate(ctx, "alice", "a long password 1", "10.0.0.10"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})
}

func TestSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clock := newService(db)
		u := mustUser(t, s, "alice", auth.RoleAdmin)
		token, err := s.CreateSession(ctx, u, auth.SessionInfo{IP: "10.0.0.1", UserAgent: strings.Repeat("x", 1000)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.SessionPrincipal(ctx, token)
		if err != nil || p.ID != u.ID || p.Role != auth.RoleAdmin || p.Kind != "user" {
			t.Fatalf("SessionPrincipal: %+v %v", p, err)
		}
		var stored int
		db.R.QueryRow("SELECT count(*) FROM sessions WHERE id_hash = $1", token).Scan(&stored)
		if stored != 0 {
			t.Fatal("the session token is stored in plain text")
		}
		if _, err := s.SessionPrincipal(ctx, token+"x"); !auth.IsNoSession(err) {
			t.Fatalf("forged token: %v", err)
		}
		// Activity keeps the session alive past the idle limit ...
		for range 3 {
			clock.Add(10 * time.Hour)
			if _, err := s.SessionPrincipal(ctx, token); err != nil {
				t.Fatalf("active session ended: %v", err)
			}
		}
		// ... and idleness ends it.
		clock.Add(auth.SessionIdle + time.Second)
		if _, err := s.SessionPrincipal(ctx, token); !auth.IsNoSession(err) {
			t.Fatalf("idle session still live: %v", err)
		}
		n, err := s.PruneExpired(ctx)
		if err != nil || n != 1 {
			t.Fatalf("PruneExpired = %d, %v; want 1", n, err)
		}
		// Logging out ends a session at once.
		token, _ = s.CreateSession(ctx, u, auth.SessionInfo{})
		p, _ = s.SessionPrincipal(ctx, token)
		if err := s.EndSession(ctx, p.SessionHash); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionPrincipal(ctx, token); !auth.IsNoSession(err) {
			t.Fatalf("ended session still live: %v", err)
		}
	})
}

func TestSessionMaxAge(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clock := newService(db)
		u := mustUser(t, s, "alice", auth.RoleAdmin)
		token, _ := s.CreateSession(ctx, u, auth.SessionInfo{})
		for clock.Now().Add(6*time.Hour).Sub(t0) < auth.SessionMaxAge {
			clock.Add(6 * time.Hour)
			if _, err := s.SessionPrincipal(ctx, token); err != nil {
				t.Fatalf("at %v: %v", clock.Now().Sub(t0), err)
			}
		}
		clock.Add(6 * time.Hour)
		if _, err := s.SessionPrincipal(ctx, token); !auth.IsNoSession(err) {
			t.Fatalf("session older than %v still live: %v", auth.SessionMaxAge, err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		u := mustUser(t, s, "alice", auth.RoleAgent)
		t1, _ := s.CreateSession(ctx, u, auth.SessionInfo{})
		t2, _ := s.CreateSession(ctx, u, auth.SessionInfo{})
		p1, _ := s.SessionPrincipal(ctx, t1)
		cases := []struct {
			cur, next string
			want      error
		}{
			{"wrong password", "a new long password", auth.ErrPasswordWrong},
			{"a long password 1", "a long password 1", auth.ErrPasswordUnchanged},
			{"a long password 1", "short", auth.ErrPasswordTooShort},
			{"a long password 1", "ALICE", auth.ErrPasswordTooShort},
		}
		for _, c := range cases {
			if err := s.ChangePassword(ctx, p1, c.cur, c.next); !errors.Is(err, c.want) {
				t.Errorf("ChangePassword(%q, %q) = %v, want %v", c.cur, c.next, err, c.want)
			}
		}
		if err := s.ChangePassword(ctx, p1, "a long password 1", "a brand new password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionPrincipal(ctx, t1); err != nil {
			t.Fatalf("the session that changed the password ended: %v", err)
		}
		if _, err := s.SessionPrincipal(ctx, t2); !auth.IsNoSession(err) {
			t.Fatalf("another session survived a password change: %v", err)
		}
		if _, err := s.Authenticate(ctx, "alice", "a brand new password", "1.1.1.1"); err != nil {
			t.Fatalf("new password refused: %v", err)
		}
	})
}

func TestEnsureOwner(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		pw, err := s.EnsureOwner(ctx, "")
		if err != nil || len(pw) < 20 {
			t.Fatalf("EnsureOwner = %q, %v", pw, err)
		}
		u, err := s.Authenticate(ctx, "owner", pw, "1.1.1.1")
		if err != nil || u.Role != auth.RoleOwner || !u.MustChangePassword {
			t.Fatalf("owner: %+v %v", u, err)
		}
		again, err := s.EnsureOwner(ctx, "")
		if err != nil || again != "" {
			t.Fatalf("second EnsureOwner = %q, %v; want nothing", again, err)
		}
		if n, _ := s.CountUsers(ctx); n != 1 {
			t.Fatalf("%d users, want 1", n)
		}
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		tok, secret, err := s.CreateToken(ctx, "erp-sync", auth.RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) < 40 || !strings.HasPrefix(secret, tok.Prefix) {
			t.Fatalf("secret %q, prefix %q", secret, tok.Prefix)
		}
		var plain int
		db.R.QueryRow("SELECT count(*) FROM api_tokens WHERE token_hash = $1 OR prefix = $1", secret).Scan(&plain)
		if plain != 0 {
			t.Fatal("the token is stored in plain text")
		}
		p, err := s.TokenPrincipal(ctx, secret)
		if err != nil || p.Name != "erp-sync" || p.Role != auth.RoleOperator || p.Kind != "token" {
			t.Fatalf("TokenPrincipal: %+v %v", p, err)
		}
		if _, _, err := s.CreateToken(ctx, "erp-sync", auth.RoleAgent); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, _, err := s.CreateToken(ctx, "x", "emperor"); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("bad role: %v", err)
		}
		for _, bad := range []string{"", "kith_", secret[:len(secret)-1], "Bearer " + secret} {
			if _, err := s.TokenPrincipal(ctx, bad); kith.ErrorCode(err) != kith.EUNAUTHORIZED {
				t.Errorf("TokenPrincipal(%q) = %v", bad, err)
			}
		}
		list, err := s.ListTokens(ctx)
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
			t.Fatalf("ListTokens = %+v, %v", list, err)
		}
		if err := s.RevokeToken(ctx, "erp-sync"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret); kith.ErrorCode(err) != kith.EUNAUTHORIZED {
			t.Fatalf("revoked token still works: %v", err)
		}
		if err := s.RevokeToken(ctx, "erp-sync"); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("second revoke: %v", err)
		}
		// The name is free again after revocation.
		if _, _, err := s.CreateToken(ctx, "erp-sync", auth.RoleAgent); err != nil {
			t.Fatalf("reuse a revoked token's name: %v", err)
		}
	})
}

func TestSignInsAndTokensAreAudited(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		log := audit.New(db, kith.SystemClock{})
		s.UseAudit(log)
		u := mustUser(t, s, "alice", auth.RoleAgent)
		s.Authenticate(ctx, "alice", "a long password 1", "10.0.0.1")
		s.Authenticate(ctx, "alice", "wrong", "10.0.0.1")
		s.Authenticate(ctx, "my secret password", "whatever", "10.0.0.2") // a password typed as the name
		_, _, err := s.CreateToken(ctx, "erp", auth.RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "erp"); err != nil {
			t.Fatal(err)
		}
		token, _ := s.CreateSession(ctx, u, auth.SessionInfo{})
		p, _ := s.SessionPrincipal(ctx, token)
		if err := s.SignOut(ctx, p, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionPrincipal(ctx, token); !auth.IsNoSession(err) {
			t.Fatal("the session survived sign-out")
		}
		entries, _, err := log.List(ctx, audit.Filter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			got = append(got, e.Action+"/"+e.Outcome+"/"+e.Actor.Kind+":"+e.Actor.Name)
			if strings.Contains(e.Detail, "secret") || strings.Contains(e.Actor.Name, "secret") {
				t.Fatalf("a typed user name was logged: %+v", e)
			}
		}
		want := []string{
			"auth.sign_in/ok/user:alice", "auth.sign_in_failed/failed/user:alice", "auth.sign_in_failed/failed/anonymous:",
			"token.create/ok/system:cli", "token.revoke/ok/system:cli", "auth.sign_out/ok/user:alice",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("audit entries\n got %v\nwant %v", got, want)
		}
		if rep, err := log.Verify(ctx); err != nil || !rep.OK() {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}
