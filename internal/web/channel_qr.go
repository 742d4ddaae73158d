package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// maxQRBytes bounds a QR code image fetched from WeCom.
const maxQRBytes = 2 << 20

// qrClient fetches QR code images; WeCom's image host answers quickly.
var qrClient = &http.Client{Timeout: 10 * time.Second}

// channelQR serves a code's QR image from WeCom through Kith, so the
// console's Content-Security-Policy stays 'self' and the download has a
// name. ?download=1 makes it an attachment.
func (s *Server) channelQR(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channelOf(r)
	if err == nil && ch.URL == "" {
		err = kith.Errorf(kith.ENOTFOUND, "This channel has no QR code.")
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if u, perr := url.Parse(ch.URL); perr != nil || (u.Scheme != "https" && u.Scheme != "http") {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "The QR code address WeCom gave is not a web address."))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, ch.URL, nil)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	resp, err := qrClient.Do(req)
	if err != nil {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "WeCom's QR code image could not be fetched; try again."))
		return
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "image/") {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "WeCom's QR code image could not be fetched (HTTP %d); try again.", resp.StatusCode))
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxQRBytes+1))
	if err != nil || len(body) > maxQRBytes {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "WeCom's QR code image could not be read; try again."))
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "private, max-age=300")
	if r.URL.Query().Get("download") == "1" {
		ext := ".png"
		if strings.Contains(ct, "jpeg") {
			ext = ".jpg"
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="channel-%d-%s%s"`, ch.ID, asciiName(ch.State), ext))
	}
	w.Write(body)
}

// asciiName keeps letters, digits, - and _ of s, for a file name.
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
