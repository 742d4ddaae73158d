package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// The data `kith bench segments` generates: customers with a realistic skew.
// Every customer's rows come from a generator seeded with its id, so each
// table can be produced in a pass of its own (PostgreSQL's COPY takes one
// table at a time) and both databases hold the same rows.

// segNow is the benchmark's "now": reachability and the days below are
// relative to it.
var segNow = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

const (
	segMembers  = 200
	segChannels = 120
	segGroups   = 40
	segTailTags = 2000
)

// segCommonTags are on most customers; the tail tags are Zipf-distributed.
var segCommonTags = []struct {
	name string
	p    float64 // share of customers
}{{"VIP", 0.55}, {"老客户", 0.45}, {"复购", 0.30}, {"直播间", 0.20}}

func segTagID(i int) string { return fmt.Sprintf("et%05d", i) } // 0..3 common, then the tail
func segTagName(i int) string {
	if i < len(segCommonTags) {
		return segCommonTags[i].name
	}
	return fmt.Sprintf("兴趣%04d", i-len(segCommonTags))
}
func segTagGroup(i int) int {
	if i < len(segCommonTags) {
		return 0
	}
	return 1 + i%(segGroups-1)
}
func segGroupID(g int) string { return fmt.Sprintf("eg%03d", g) }
func segGroupName(g int) string {
	if g == 0 {
		return "客户等级"
	}
	return fmt.Sprintf("分组%02d", g)
}
func segMember(i int) string  { return fmt.Sprintf("m%03d", i) }
func segChannel(i int) string { return fmt.Sprintf("渠道%03d", i) }

// zipfTable draws index i with probability proportional to 1/(i+1)^s.
type zipfTable []float64

func newZipf(n int, s float64) zipfTable {
	cdf := make(zipfTable, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

func (z zipfTable) draw(r *rand.Rand) int {
	return sort.SearchFloat64s(z, r.Float64())
}

var (
	zipfMembers  = newZipf(segMembers, 1.0)
	zipfChannels = newZipf(segChannels, 1.1)
	zipfTail     = newZipf(segTailTags, 1.05)
)

type segFollow struct {
	member, state, status string
	added                 time.Time
	tags                  []string
	phone                 string // a phone index, or ""
}

type segConsent struct {
	kind, key, index, channel, action string
	until                             *time.Time
	suppressed                        bool
}

// segCustomer is everything about one generated customer.
type segCustomer struct {
	id       int64
	ext      string
	orders   int64
	spent    [4]int64 // 30d, 90d, 365d, total, in fen
	last     *time.Time
	follows  []segFollow
	consents []segConsent
}

func genCustomer(id int64) segCustomer {
	r := rand.New(rand.NewPCG(uint64(id), 0x6b697468))
	c := segCustomer{id: id, ext: fmt.Sprintf("wb%010d", id)}
	if r.Float64() < 0.45 {
		c.orders = 1 + int64(r.ExpFloat64()*3)
		total := c.orders * (5000 + r.Int64N(50000))
		c.spent[3] = total
		c.spent[2] = total * r.Int64N(101) / 100
		c.spent[1] = c.spent[2] * r.Int64N(101) / 100
		c.spent[0] = c.spent[1] * r.Int64N(101) / 100
		t := segNow.Add(-time.Duration(r.Int64N(730*24)) * time.Hour)
		c.last = &t
	}
	n := 1
	if x := r.Float64(); x < 0.03 {
		n = 3
	} else if x < 0.15 {
		n = 2
	}
	seen := map[string]bool{}
	for j := 0; j < n; j++ {
		f := segFollow{member: segMember(zipfMembers.draw(r)), status: "active",
			added: segNow.Add(-time.Duration(r.Int64N(3*365*24*60)) * time.Minute)}
		if seen[f.member] {
			continue
		}
		seen[f.member] = true
		if r.Float64() < 0.6 {
			f.state = segChannel(zipfChannels.draw(r))
		}
		if x := r.Float64(); x < 0.05 {
			f.status = "deleted_by_customer"
		} else if x < 0.08 {
			f.status = "deleted_by_member"
		}
		tags := map[int]bool{}
		if j == 0 {
			for k, ct := range segCommonTags {
				if r.Float64() < ct.p {
					tags[k] = true
				}
			}
		}
		for k := r.IntN(3); k > 0; k-- {
			tags[len(segCommonTags)+zipfTail.draw(r)] = true
		}
		for k := range tags {
			f.tags = append(f.tags, segTagID(k))
		}
		sort.Strings(f.tags)
		if r.Float64() < 0.3 {
			f.phone = fmt.Sprintf("hp%010d", id)
		}
		c.follows = append(c.follows, f)
	}
	// Marketing consent on WeCom for most, by phone for some.
	if x := r.Float64(); x < 0.75 {
		cs := segConsent{kind: "external_userid", key: c.ext, channel: "wecom", action: "grant"}
		switch y := r.Float64(); {
		case y < 0.08:
			cs.action = "withdraw"
		case y < 0.10:
			cs.action = "refuse"
		case y < 0.12:
			cs.suppressed = true
		case y < 0.22:
			t := segNow.Add(time.Duration(r.Int64N(2*365*24)-365*24) * time.Hour)
			cs.until = &t
		}
		c.consents = append(c.consents, cs)
	}
	for _, f := range c.follows {
		if f.phone != "" && r.Float64() < 0.7 {
			cs := segConsent{kind: "phone", key: "enc-" + f.phone, index: f.phone, channel: "sms", action: "grant"}
			if r.Float64() < 0.1 {
				cs.action = "withdraw"
			}
			c.consents = append(c.consents, cs)
			break // one number per customer
		}
	}
	return c
}
