package audit_test

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
)

// TestHashGolden pins the encoding: the hashes were computed with the
// Python function in the package documentation, so a change to the
// encoding (which would break every existing log) fails here.
func TestHashGolden(t *testing.T) {
	e := audit.Entry{
		Seq: 1, At: time.Date(2025, 6, 30, 10, 0, 0, 123456000, time.FixedZone("CST", 8*3600)),
		Actor:  audit.Actor{Kind: audit.ActorUser, Name: "alice"},
		Action: audit.ActionPIIRead, ObjectType: "customer", ObjectID: "42", Person: "42",
		Purpose: "customer_service", Outcome: audit.OutcomeOK, Detail: `{"fields":["name","备注"]}`,
		PrevHash: audit.Genesis,
	}
	const want1 = "414269586a5c98781e755d477d98c0f36f1040bc7348feacf6ff51f0b43a82e6"
	if got := e.ComputeHash(); got != want1 {
		t.Errorf("hash of entry 1: %s, want %s", got, want1)
	}
	e2 := audit.Entry{Seq: 2, At: e.At, Actor: audit.Actor{Kind: audit.ActorAnonymous},
		Action: audit.ActionSignInFailed, Outcome: audit.OutcomeFailed, PrevHash: want1}
	if got, want := e2.ComputeHash(), "a8e38d9ffc156dd1211e06e1859d0de72fec56bbe5059dd379e69acc614d7b68"; got != want {
		t.Errorf("hash of entry 2: %s, want %s", got, want)
	}
	// The encoding byte for byte, as the documentation describes it.
	var b bytes.Buffer
	for _, f := range []string{"kith.audit.v1", "1", "2025-06-30T02:00:00.123456Z", "user", "alice", "pii.read",
		"customer", "42", "42", "customer_service", "ok", `{"fields":["name","备注"]}`, audit.Genesis} {
		binary.Write(&b, binary.BigEndian, uint64(len(f)))
		b.WriteString(f)
	}
	if !bytes.Equal(e.Canonical(), b.Bytes()) {
		t.Errorf("Canonical:\n%q\nwant\n%q", e.Canonical(), b.Bytes())
	}
}

// decode splits a canonical encoding back into its fields, or returns nil
// if it is not one.
func decode(b []byte) []string {
	var out []string
	for len(b) > 0 {
		if len(b) < 8 {
			return nil
		}
		n := binary.BigEndian.Uint64(b)
		b = b[8:]
		if n > uint64(len(b)) {
			return nil
		}
		out = append(out, string(b[:n]))
		b = b[n:]
	}
	return out
}

func fuzzEntry(seq, micros int64, kind, actor, action, otype, oid, person, purpose, outcome, detail, prev string) audit.Entry {
	return audit.Entry{Seq: seq, At: time.UnixMicro(micros), Actor: audit.Actor{Kind: kind, Name: actor}, Action: action,
		ObjectType: otype, ObjectID: oid, Person: person, Purpose: purpose, Outcome: outcome, Detail: detail, PrevHash: prev}
}

// FuzzCanonicalInjective: the encoding splits back into exactly the
// entry's fields, so two different entries never encode to the same bytes,
// whatever the fields hold (separators, lengths, digits that run together).
func FuzzCanonicalInjective(f *testing.F) {
	f.Add(int64(1), int64(0), "user", "alice", "pii.read", "customer", "42", "42", "", "ok", "", audit.Genesis, "1")
	f.Add(int64(12), int64(1751248800123456), "user", "al", "ice", "", "", "", "", "ok", "{}", "", "ab")
	f.Add(int64(1), int64(1), "token", "a\x00\x00\x00\x00\x00\x00\x00\x01b", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, seq, micros int64, kind, actor, action, otype, oid, person, purpose, outcome, detail, prev, shift string) {
		e := fuzzEntry(seq, micros, kind, actor, action, otype, oid, person, purpose, outcome, detail, prev)
		fields := decode(e.Canonical())
		want := []string{"kith.audit.v1", strconv.FormatInt(seq, 10), audit.FormatTime(e.At), kind, actor, action, otype, oid, person, purpose, outcome, detail, prev}
		if len(fields) != len(want) {
			t.Fatalf("decoded %d fields, want %d", len(fields), len(want))
		}
		for i := range want {
			if fields[i] != want[i] {
				t.Fatalf("field %d: decoded %q, want %q", i, fields[i], want[i])
			}
		}
		// Move bytes from one field to its neighbour (shift says how
		// many): the encoding must change.
		if k := len(shift); k > 0 && k <= len(actor) {
			moved := fuzzEntry(seq, micros, kind, actor[:len(actor)-k], actor[len(actor)-k:]+action, otype, oid, person, purpose, outcome, detail, prev)
			if bytes.Equal(moved.Canonical(), e.Canonical()) || moved.ComputeHash() == e.ComputeHash() {
				t.Fatalf("moving %d bytes from actor to action kept the encoding", k)
			}
		}
		other := e
		other.Seq++
		if bytes.Equal(other.Canonical(), e.Canonical()) {
			t.Fatal("another seq, the same encoding")
		}
	})
}
