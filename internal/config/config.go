// Package config reads Kith's settings from command-line flags and
// environment variables and validates them before anything starts.
//
// A flag given on the command line wins over its environment variable, which
// wins over the default. A wrong value stops the start with one line that
// names the flag, its variable, what is wrong and what is accepted.
package config

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --time-zone works without the system's zone files

	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/settings"
)

// Config is the validated configuration of one Kith process.
type Config struct {
	Addr         string         // --addr / KITH_ADDR
	DataDir      string         // --data-dir / KITH_DATA_DIR
	DatabaseURL  string         // --database-url / KITH_DATABASE_URL; empty means embedded SQLite
	Sandbox      bool           // --sandbox / KITH_SANDBOX
	SandboxAddr  string         // --sandbox-addr / KITH_SANDBOX_ADDR: where the sandbox's WeCom API and page listen
	LogLevel     slog.Level     // --log-level / KITH_LOG_LEVEL
	LogFormat    string         // --log-format / KITH_LOG_FORMAT: text or json
	CookieSecure string         // --cookie-secure / KITH_COOKIE_SECURE: auto, always or never
	NodeName     string         // --node-name / KITH_NODE_NAME; defaults to host name and pid
	Location     *time.Location // --time-zone / KITH_TIME_ZONE: the zone the console shows times in

	// EnvKeys are the instance secrets given in the environment, or nil.
	EnvKeys *secrets.Keys
	// WeComEnv holds the WeCom connection settings given in the
	// environment (KITH_WECOM_*); they win over those saved in the console.
	WeComEnv settings.WeCom

	// AdminPassword is the owner's first password (KITH_ADMIN_PASSWORD only:
	// a password on the command line would show in the process list).
	AdminPassword string
}

// Postgres reports whether the configuration points at PostgreSQL.
func (c *Config) Postgres() bool { return c.DatabaseURL != "" }

// Set names which groups of options a command takes.
type Set int

const (
	// Data is the options of every command that touches data.
	Data Set = 1 << iota
	// Server is the options only `serve` takes.
	Server
)

type option struct {
	flag, env, def, usage string
	value                 *stringValue
}

// stringValue is a flag.Value that keeps text; when boolean, the flag may be
// given without a value (--sandbox) as the flag package's bool flags can.
type stringValue struct {
	s      string
	isBool bool
}

func (v *stringValue) String() string     { return v.s }
func (v *stringValue) Set(s string) error { v.s = s; return nil }
func (v *stringValue) IsBoolFlag() bool   { return v.isBool }

// Flags binds the options of a command to a FlagSet. Call Load after the
// FlagSet is parsed.
type Flags struct {
	fs   *flag.FlagSet
	opts []*option
}

// Bind registers the options of the given sets on fs.
func Bind(fs *flag.FlagSet, sets Set) *Flags {
	f := &Flags{fs: fs}
	add := func(set Set, name, env, def, usage string) {
		if sets&set == 0 {
			return
		}
		o := &option{flag: name, env: env, def: def, usage: usage, value: &stringValue{s: def, isBool: def == "false"}}
		fs.Var(o.value, name, usage+" (env "+env+")")
		f.opts = append(f.opts, o)
	}
	add(Data, "data-dir", "KITH_DATA_DIR", "./kith-data", "folder for the SQLite database, secrets and files")
	add(Data, "database-url", "KITH_DATABASE_URL", "", "empty for embedded SQLite, or postgres://user:password@host:5432/db")
	add(Data, "log-level", "KITH_LOG_LEVEL", "info", "debug, info, warn or error")
	add(Data, "log-format", "KITH_LOG_FORMAT", "text", "text or json")
	add(Server, "addr", "KITH_ADDR", "127.0.0.1:8080", "host:port to listen on")
	add(Server, "sandbox", "KITH_SANDBOX", "false", "also run the local WeCom sandbox (true or false)")
	add(Server, "sandbox-addr", "KITH_SANDBOX_ADDR", "127.0.0.1:8081", "host:port of the sandbox's WeCom API and control page (with --sandbox)")
	add(Server, "cookie-secure", "KITH_COOKIE_SECURE", "auto", "auto (Secure over HTTPS), always or never")
	add(Data, "time-zone", "KITH_TIME_ZONE", "Asia/Shanghai", "IANA time zone of the console's times and of segment days")
	add(Server, "node-name", "KITH_NODE_NAME", "", "name of this node in logs and job reports (default host-pid)")
	return f
}

// Load resolves every bound option (flag, then environment, then default),
// validates it and returns the configuration. getenv is os.Getenv outside
// tests.
func (f *Flags) Load(getenv func(string) string) (*Config, error) {
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	val := map[string]string{}
	src := map[string]string{}
	for _, o := range f.opts {
		v, from := o.def, "default"
		if e := getenv(o.env); e != "" {
			v, from = e, o.env
		}
		if given[o.flag] {
			v, from = o.value.s, "--"+o.flag
		}
		val[o.flag], src[o.flag] = v, from
	}
	bad := func(name, format string, args ...any) error {
		env := ""
		for _, o := range f.opts {
			if o.flag == name {
				env = o.env
			}
		}
		return fmt.Errorf("--%s (%s) %s", name, env, fmt.Sprintf(format, args...))
	}

	c := &Config{AdminPassword: getenv("KITH_ADMIN_PASSWORD")}
	if v, ok := val["data-dir"]; ok {
		if strings.TrimSpace(v) == "" {
			return nil, bad("data-dir", "is empty; give a folder path such as ./kith-data")
		}
		c.DataDir = v
	}
	if v, ok := val["database-url"]; ok {
		if err := checkDatabaseURL(v); err != nil {
			return nil, bad("database-url", "%v", err)
		}
		c.DatabaseURL = v
	}
	if v, ok := val["log-level"]; ok {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return nil, bad("log-level", "is %q; use debug, info, warn or error", v)
		}
	}
	if v, ok := val["log-format"]; ok {
		if v != "text" && v != "json" {
			return nil, bad("log-format", "is %q; use text or json", v)
		}
		c.LogFormat = v
	}
	if v, ok := val["addr"]; ok {
		if err := checkAddr(v); err != nil {
			return nil, bad("addr", "is %q: %v; use host:port such as 127.0.0.1:8080 or :8080", v, err)
		}
		c.Addr = v
	}
	if v, ok := val["sandbox-addr"]; ok {
		if err := checkAddr(v); err != nil {
			return nil, bad("sandbox-addr", "is %q: %v; use host:port such as 127.0.0.1:8081", v, err)
		}
		c.SandboxAddr = v
	}
	if v, ok := val["sandbox"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, bad("sandbox", "is %q; use true or false", v)
		}
		c.Sandbox = b
	}
	if v, ok := val["cookie-secure"]; ok {
		if v != "auto" && v != "always" && v != "never" {
			return nil, bad("cookie-secure", "is %q; use auto, always or never", v)
		}
		c.CookieSecure = v
	}
	if v, ok := val["time-zone"]; ok {
		loc, err := time.LoadLocation(v)
		if err != nil || v == "" {
			return nil, bad("time-zone", "is %q, not a time zone; use an IANA name such as Asia/Shanghai or UTC", v)
		}
		c.Location = loc
	}
	if v, ok := val["node-name"]; ok {
		if v == "" {
			host, _ := os.Hostname()
			v = fmt.Sprintf("%s-%d", host, os.Getpid())
		}
		if len(v) > 100 {
			return nil, bad("node-name", "is longer than 100 characters")
		}
		c.NodeName = v
	}
	keys, err := secrets.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	c.EnvKeys = keys
	if c.WeComEnv, err = settings.WeComFromEnv(getenv); err != nil {
		return nil, err
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 12 {
		return nil, fmt.Errorf("KITH_ADMIN_PASSWORD is shorter than 12 characters; choose a longer password or unset it to have one generated")
	}
	return c, nil
}

func checkAddr(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	_ = host
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func checkDatabaseURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("is %q; leave it empty for the embedded SQLite database or use postgres://user:password@host:5432/dbname", Redact(v))
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return fmt.Errorf("has no host; use postgres://user:password@host:5432/dbname")
	}
	return nil
}

// Redact returns a database URL with its password replaced, for messages and
// logs.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return dbURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
