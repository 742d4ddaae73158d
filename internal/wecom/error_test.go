package wecom

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestErrorCode(t *testing.T) {
	we := &Error{Code: CodeNoRelation, Message: "no relation", API: "externalcontact/remark"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("other"), 0},
		{we, CodeNoRelation},
		{fmt.Errorf("sync: %w", we), CodeNoRelation},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d; want %d", tc.err, got, tc.want)
		}
	}
	if got := we.Error(); got != "wecom: externalcontact/remark: errcode 84061: no relation" {
		t.Errorf("Error() = %q", got)
	}
}

func TestMeaningCoversEveryConstant(t *testing.T) {
	var decls []ast.Decl
	for _, name := range []string{"error.go", "groupmsg.go", "moment.go"} {
		file, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, file.Decls...)
	}
	var names []string
	for _, d := range decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Code") {
					names = append(names, n.Name)
				}
			}
		}
	}
	if len(names) != len(meanings) {
		t.Errorf("error.go and groupmsg.go declare %d codes and Meaning explains %d", len(names), len(meanings))
	}
	codes := map[string]int{
		"CodeBusy": CodeBusy, "CodeInvalidSecret": CodeInvalidSecret, "CodeInvalidUserID": CodeInvalidUserID,
		"CodeInvalidCorpID": CodeInvalidCorpID, "CodeInvalidToken": CodeInvalidToken, "CodeInvalidParameter": CodeInvalidParameter,
		"CodeInvalidTagID": CodeInvalidTagID, "CodeInvalidExternalUser": CodeInvalidExternalUser, "CodeTagLimit": CodeTagLimit,
		"CodeTokenMissing": CodeTokenMissing, "CodeTokenExpired": CodeTokenExpired, "CodeRateLimited": CodeRateLimited,
		"CodeConcurrency": CodeConcurrency, "CodeNoPermission": CodeNoPermission, "CodeAppDisabled": CodeAppDisabled,
		"CodeInvalidCursor": CodeInvalidCursor, "CodeOutOfScope": CodeOutOfScope, "CodeUntrustedIP": CodeUntrustedIP,
		"CodeUserNotFound": CodeUserNotFound, "CodeNoRelation": CodeNoRelation, "CodeNoContactPermission": CodeNoContactPermission,
		"CodeUnlicensed": CodeUnlicensed, "CodeContactWayTooManyUsers": CodeContactWayTooManyUsers,
		"CodeContactWayQuota": CodeContactWayQuota, "CodeWelcomeCodeMissing": CodeWelcomeCodeMissing,
		"CodeWelcomeCodeExpired": CodeWelcomeCodeExpired, "CodeWelcomeAlreadyChatting": CodeWelcomeAlreadyChatting,
		"CodeWelcomeNoArchiveAgree": CodeWelcomeNoArchiveAgree, "CodeMemberNotActivated": CodeMemberNotActivated,
		"CodeWelcomeSending": CodeWelcomeSending, "CodeMemberNotVerified": CodeMemberNotVerified,
		"CodeNoSendableCustomer": CodeNoSendableCustomer, "CodeGroupMsgDispatching": CodeGroupMsgDispatching,
		"CodeGroupMsgCancelled": CodeGroupMsgCancelled, "CodeRemindOverLimit": CodeRemindOverLimit,
		"CodeMomentTooManyJobs": CodeMomentTooManyJobs, "CodeMomentDispatching": CodeMomentDispatching,
	}
	for _, name := range names {
		code, ok := codes[name]
		if !ok {
			t.Errorf("%s is not in this test's table; add it", name)
			continue
		}
		m := Meaning(code)
		if _, explained := meanings[code]; !explained || strings.Contains(m, "Look it up") || len(m) < 30 {
			t.Errorf("Meaning(%s) = %q", name, m)
		}
	}
	if m := Meaning(123456); !strings.Contains(m, "devtool/query?e=123456") {
		t.Errorf("Meaning of an unknown code = %q", m)
	}
}
