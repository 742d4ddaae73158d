package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
)

func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{"say create, list or revoke: kith token create --role ROLE --name NAME"}
	}
	var role, name string
	switch args[0] {
	case "create":
		var r auth.Role
		a, err := openData(ctx, "token create", args[1:], stdout, stderr, getenv, func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "", "owner, admin, operator, agent or auditor")
			fs.StringVar(&name, "name", "", "what the token is for, such as \"erp-sync\"")
		}, func() error {
			if name == "" {
				return usageError{"--name is required: say what the token is for"}
			}
			var err error
			if r, err = auth.ParseRole(role); err != nil {
				return usageError{"--role: " + kith.ErrorMessage(err)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		defer a.Close()
		t, secret, err := a.Auth.CreateToken(ctx, name, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created API token %q with role %s. It is shown only now; send it as\n", t.Name, t.Role)
		fmt.Fprintln(stdout, "`Authorization: Bearer TOKEN`. Revoke it with: kith token revoke --name "+t.Name)
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		a, err := openData(ctx, "token list", args[1:], stdout, stderr, getenv, nil, nil)
		if err != nil {
			return err
		}
		defer a.Close()
		tokens, err := a.Auth.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tPREFIX\tCREATED\tLAST USED")
		for _, t := range tokens {
			last := "never"
			if t.LastUsedAt != nil {
				last = t.LastUsedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\n", t.Name, t.Role, t.Prefix, t.CreatedAt.Format("2006-01-02 15:04"), last)
		}
		return tw.Flush()
	case "revoke":
		a, err := openData(ctx, "token revoke", args[1:], stdout, stderr, getenv, func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "the token's name")
		}, func() error {
			if name == "" {
				return usageError{"--name is required: say which token to revoke"}
			}
			return nil
		})
		if err != nil {
			return err
		}
		defer a.Close()
		if err := a.Auth.RevokeToken(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked API token %q.\n", name)
		return nil
	}
	return usageError{fmt.Sprintf("unknown token command %q; use create, list or revoke", args[0])}
}
