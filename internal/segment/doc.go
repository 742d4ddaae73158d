// Package segment answers "which customers": a small expression language an
// operator can read (tag:"VIP" and not channel:"双11直播" and reachable:wecom),
// its reference SQL for both dialects, and a roaring-bitmap index that
// answers the same question in milliseconds.
//
// The language: Parse reads an expression into the tree of ast.go (And, Or,
// Not, Term) or returns an *Error with the column and what was expected;
// String writes the canonical form that saved segments keep; Explain
// prints the tree with each term's meaning; Check refuses tag, group,
// member and channel names a Catalog does not have, suggesting the closest;
// SQL is the reference query whose semantics the index must match; Store
// keeps saved segments. The index lives in segment/index.
package segment
