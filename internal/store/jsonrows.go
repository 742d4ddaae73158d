package store

import (
	"fmt"
	"strings"
)

// JSONValues returns a subquery that reads a JSON array of arrays, given
// as parameter $n, as rows whose columns c1, c2, … have the SQL types
// types ("BIGINT", "TEXT"). A batch of rows passed this way is one
// parameter: SQLite's cost per $N parameter grows with their number, and
// a statement with thousands of them spends most of its time binding.
func (d Dialect) JSONValues(n int, types ...string) string {
	var b strings.Builder
	b.WriteString("(SELECT ")
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		if d == Postgres {
			fmt.Fprintf(&b, "CAST(j.value->>%d AS %s) AS c%d", i, t, i+1)
		} else {
			fmt.Fprintf(&b, "CAST(json_extract(j.value, '$[%d]') AS %s) AS c%d", i, t, i+1)
		}
	}
	if d == Postgres {
		fmt.Fprintf(&b, " FROM jsonb_array_elements(CAST($%d AS jsonb)) AS j(value))", n)
	} else {
		fmt.Fprintf(&b, " FROM json_each($%d) AS j)", n)
	}
	return b.String()
}
