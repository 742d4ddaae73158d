package customer

import (
	"regexp"
	"strings"
	"unicode"
)

// Grams returns what the name search indexes for a name: every character
// and every pair of neighbouring characters within a word, lower-cased and
// separated by spaces. Chinese has no spaces between words, so pairs are
// what makes a two-character search (小明) find 王小明.
func Grams(name string) string {
	var out []string
	seen := map[string]bool{}
	add := func(g string) {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, word := range words(name) {
		for i, r := range word {
			add(string(r))
			if i+1 < len(word) {
				add(string(word[i : i+2]))
			}
		}
	}
	return strings.Join(out, " ")
}

// queryGrams returns the grams a search text must all match: its pairs, or
// the character itself when a word has one character.
func queryGrams(q string) []string {
	var out []string
	for _, word := range words(q) {
		if len(word) == 1 {
			out = append(out, string(word))
			continue
		}
		for i := 0; i+1 < len(word); i++ {
			out = append(out, string(word[i:i+2]))
		}
	}
	return out
}

// words splits lower-cased text into runs of letters and digits.
func words(s string) [][]rune {
	var out [][]rune
	var cur []rune
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Han, r) {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// externalIDRe matches what an external_userid looks like (wm… for WeChat
// users, wo… for WeCom users), so a search for one is an exact look-up.
var externalIDRe = regexp.MustCompile(`^w[mo][A-Za-z0-9_-]{3,}$`)
