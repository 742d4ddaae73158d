package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
)

// Role is what a user or token is allowed to do, as a bundle of permissions.
type Role string

// The roles of a Kith instance.
const (
	RoleOwner    Role = "owner"    // the merchant; everything
	RoleAdmin    Role = "admin"    // runs the instance; everything but ownership
	RoleOperator Role = "operator" // plans segments and campaigns
	RoleAgent    Role = "agent"    // a customer-service member
	RoleAuditor  Role = "auditor"  // the compliance officer; reads logs and ledgers
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleOperator, RoleAgent, RoleAuditor}

// ParseRole returns the role named s or an EINVALID error listing the roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", kith.Errorf(kith.EINVALID, "unknown role %q; use one of %s", s, strings.Join(names, ", "))
}

// Permission is one thing a principal may do. Every route names the
// permission it needs.
type Permission string

// The permissions. Add one per new capability and grant it below.
const (
	PermViewStatus    Permission = "status.view"     // see the dashboard and instance status
	PermViewInfra     Permission = "status.infra"    // see where the data lives (paths, hosts)
	PermViewMetrics   Permission = "metrics.view"    // scrape /metrics
	PermRunJobChecks  Permission = "jobs.check"      // enqueue probe jobs
	PermChangeOwnPass Permission = "self.password"   // change one's own password
	PermViewCustomers Permission = "customers.view"  // list and open customers
	PermTagCustomers  Permission = "customers.tag"   // tag customers and edit remarks
	PermManageTags    Permission = "tags.manage"     // create, rename and delete corp tags
	PermViewEvents    Permission = "events.view"     // see received platform events
	PermRunSync       Permission = "sync.run"        // start a full sync with WeCom
	PermManageConfig  Permission = "settings.manage" // change instance settings (the WeCom connection)
	// PermViewAudit reads, verifies and exports the audit log. The admin
	// does not hold it: whoever runs the instance is among those audited,
	// and should not curate the record of what they did.
	PermViewAudit Permission = "audit.view"
	// PermRevealPII shows a masked protected field (a phone number) in full,
	// with a reason, audited. Agents hold it: they call customers back.
	PermRevealPII Permission = "pii.reveal"
	// PermManageSegments saves, changes and deletes segments (anyone who
	// may see customers may count and preview them).
	PermManageSegments Permission = "segments.manage"
	// PermImportOrders uploads order files, maps their columns, dry-runs
	// and imports them in the console.
	PermImportOrders Permission = "orders.import"
	// PermLinkOrders links a buyer account in a shop to a customer and
	// unlinks it, by hand, with a reason, audited.
	PermLinkOrders Permission = "orders.link"
)

// Permissions lists every permission.
var Permissions = []Permission{
	PermViewStatus, PermViewInfra, PermViewMetrics, PermRunJobChecks, PermChangeOwnPass,
	PermViewCustomers, PermTagCustomers, PermManageTags, PermViewEvents, PermRunSync, PermManageConfig, PermViewAudit,
	PermRevealPII, PermManageSegments, PermImportOrders, PermLinkOrders,
}

var grants = map[Role][]Permission{
	RoleOwner: {PermViewStatus, PermViewInfra, PermViewMetrics, PermRunJobChecks, PermChangeOwnPass,
		PermViewCustomers, PermTagCustomers, PermManageTags, PermViewEvents, PermRunSync, PermManageConfig, PermViewAudit, PermRevealPII, PermManageSegments, PermImportOrders, PermLinkOrders},
	RoleAdmin: {PermViewStatus, PermViewInfra, PermViewMetrics, PermRunJobChecks, PermChangeOwnPass,
		PermViewCustomers, PermTagCustomers, PermManageTags, PermViewEvents, PermRunSync, PermManageConfig, PermRevealPII, PermManageSegments, PermImportOrders, PermLinkOrders},
	RoleOperator: {PermViewStatus, PermChangeOwnPass, PermViewCustomers, PermTagCustomers, PermManageTags, PermManageSegments, PermImportOrders, PermLinkOrders},
	RoleAgent:    {PermViewStatus, PermChangeOwnPass, PermViewCustomers, PermTagCustomers, PermRevealPII},
	RoleAuditor:  {PermViewStatus, PermChangeOwnPass, PermViewEvents, PermViewAudit},
}

// Can reports whether the role holds the permission.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }

// Principal is who is making a request: a signed-in user or an API token.
type Principal struct {
	Kind string // "user" or "token"
	ID   int64
	Name string // username or token name
	Role Role
	// MustChangePassword is set for a user still on a one-time password.
	MustChangePassword bool
	// SessionHash identifies the session of a user principal.
	SessionHash string
}

// Can reports whether the principal holds the permission.
func (p *Principal) Can(perm Permission) bool { return p != nil && p.Role.Can(perm) }

// String names the principal for logs and audit entries.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return fmt.Sprintf("%s:%s", p.Kind, p.Name)
}
