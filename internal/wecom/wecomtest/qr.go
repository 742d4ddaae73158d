package wecomtest

import (
	"bytes"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
)

// serveQR serves a contact way's QR code image. The sandbox draws a
// QR-like pattern from the config_id (finder squares and modules): it looks
// like WeCom's image and is stable, but no phone can scan it.
func (s *Sandbox) serveQR(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	s.mu.Lock()
	_, found := s.acqState().ways[id]
	s.mu.Unlock()
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(QRImage(id))
}

// QRImage draws the sandbox's QR-like image for a config_id as a PNG.
func QRImage(configID string) []byte {
	const n, scale, quiet = 25, 8, 4
	size := (n + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	seed := sha256.Sum256([]byte(configID))
	bit := func(i int) bool { h := sha256.Sum256(append(seed[:], byte(i), byte(i>>8))); return h[0]&1 == 1 }
	finder := func(x, y int) (bool, bool) {
		for _, c := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
			dx, dy := x-c[0], y-c[1]
			if dx >= -1 && dx <= 7 && dy >= -1 && dy <= 7 {
				if dx < 0 || dy < 0 || dx > 6 || dy > 6 {
					return true, false // the white ring around a finder
				}
				ring := dx == 0 || dy == 0 || dx == 6 || dy == 6
				core := dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4
				return true, ring || core
			}
		}
		return false, false
	}
	for y := range n {
		for x := range n {
			in, dark := finder(x, y)
			if !in {
				dark = bit(y*n + x)
			}
			if !dark {
				continue
			}
			for py := range scale {
				for px := range scale {
					img.SetGray((x+quiet)*scale+px, (y+quiet)*scale+py, color.Gray{})
				}
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img) // writing to memory cannot fail
	return b.Bytes()
}
