package config

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Bind(fs, Data|Server)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Location == nil || c.Location.String() != "Asia/Shanghai" {
		t.Fatalf("default time zone %v", c.Location)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./kith-data" || c.DatabaseURL != "" || c.Sandbox || c.LogLevel != slog.LevelInfo || c.CookieSecure != "auto" || c.NodeName == "" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Postgres() {
		t.Fatal("empty database URL must mean SQLite")
	}
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	env := map[string]string{"KITH_ADDR": "127.0.0.1:9000", "KITH_DATA_DIR": "/env/dir", "KITH_SANDBOX": "true"}
	c, err := load(t, []string{"--addr", ":7000"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" || c.DataDir != "/env/dir" || !c.Sandbox {
		t.Fatalf("got %+v", c)
	}
	// A bare boolean flag works and beats the environment.
	c, err = load(t, []string{"--sandbox=false"}, env)
	if err != nil || c.Sandbox {
		t.Fatalf("--sandbox=false: %+v %v", c, err)
	}
	c, err = load(t, []string{"--sandbox", "--addr", ":1"}, nil)
	if err != nil || !c.Sandbox || c.Addr != ":1" {
		t.Fatalf("bare --sandbox: %+v %v", c, err)
	}
}

func TestBadValuesNameTheFlagAndVariable(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{nil, map[string]string{"KITH_DATABASE_URL": "mysql://u:pw@h/db"}, []string{"--database-url", "KITH_DATABASE_URL", "postgres://"}},
		{[]string{"--database-url", "postgres:///nohost"}, nil, []string{"--database-url", "no host"}},
		{nil, map[string]string{"KITH_ADDR": "nonsense"}, []string{"--addr", "KITH_ADDR", "host:port"}},
		{[]string{"--addr", "127.0.0.1:99999"}, nil, []string{"--addr", "65535"}},
		{nil, map[string]string{"KITH_LOG_LEVEL": "loud"}, []string{"--log-level", "debug, info"}},
		{[]string{"--log-format", "xml"}, nil, []string{"--log-format", "text or json"}},
		{nil, map[string]string{"KITH_SANDBOX": "maybe"}, []string{"--sandbox", "true or false"}},
		{[]string{"--cookie-secure", "yes"}, nil, []string{"--cookie-secure", "auto, always or never"}},
		{nil, map[string]string{"KITH_TIME_ZONE": "Mars/Olympus"}, []string{"--time-zone", "Asia/Shanghai"}},
		{[]string{"--data-dir", " "}, nil, []string{"--data-dir", "empty"}},
		{nil, map[string]string{"KITH_ADMIN_PASSWORD": "short"}, []string{"KITH_ADMIN_PASSWORD", "12"}},
		{nil, map[string]string{"KITH_SESSION_KEY": "AAAA"}, []string{"KITH_FIELD_KEY", "or none"}},
		{nil, map[string]string{"KITH_WECOM_CORP_ID": "not-a-corp"}, []string{"corp ID", "KITH_WECOM"}},
		{nil, map[string]string{"KITH_SESSION_KEY": "AAAA", "KITH_FIELD_KEY": "AAAA", "KITH_BLIND_INDEX_KEY": "AAAA"}, []string{"KITH_SESSION_KEY", "32"}},
	}
	for _, c := range cases {
		_, err := load(t, c.args, c.env)
		if err == nil {
			t.Errorf("%v %v: accepted", c.args, c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: error %q lacks %q", c.args, c.env, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q has more than one line", err)
		}
	}
}

func TestPasswordsNeverInMessages(t *testing.T) {
	_, err := load(t, nil, map[string]string{"KITH_DATABASE_URL": "mysql://kith:hunter2secret@h/db"})
	if err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("error %v shows the password", err)
	}
	if got := Redact("postgres://kith:pw123@db:5432/kith"); strings.Contains(got, "pw123") || !strings.Contains(got, "db:5432") {
		t.Fatalf("Redact = %q", got)
	}
}

func TestDataSetHasNoServerFlags(t *testing.T) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Bind(fs, Data)
	if err := fs.Parse([]string{"--addr", ":1"}); err == nil {
		t.Fatal("migrate accepted --addr")
	}
	if fs.Lookup("data-dir") == nil || fs.Lookup("database-url") == nil {
		t.Fatal("migrate lacks the data flags")
	}
}
