package web

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// The order file import (issue 8): upload a CSV or XLSX file, check the
// mapping of its columns in a dry run, import it in a job and follow its
// progress. This file has the upload; orders_import_run.go the runs.

// importUploadView is the upload page.
type importUploadView struct {
	MaxSize string
	Shop    string
	Problem *problem
	Recent  []recentUpload
}

// recentUpload is a line of the upload page's list of recent files.
type recentUpload struct {
	*orders.Upload
	Size  string
	State string // the import's state, else the dry run's prefixed "dry-", else ""
}

// importRecent is how many recent files the upload page lists.
const importRecent = 20

// recentUploads lists the newest uploads with how far each is.
func (s *Server) recentUploads(up *orders.Uploads) ([]recentUpload, error) {
	list, err := up.Recent(importRecent)
	if err != nil {
		return nil, err
	}
	out := make([]recentUpload, 0, len(list))
	for _, u := range list {
		r := recentUpload{Upload: u, Size: sizeText(u.Size)}
		if st, _ := up.State(u.ID, orders.RunImport); st != nil {
			r.State = st.State
		} else if st, _ := up.State(u.ID, orders.RunDry); st != nil {
			r.State = "dry-" + st.State
		}
		out = append(out, r)
	}
	return out, nil
}

// uploadTimeout bounds the reading of one upload (the server's own read
// timeout is for ordinary requests).
const uploadTimeout = 30 * time.Minute

func (s *Server) importUploads() (*orders.Uploads, error) {
	if s.OrderUploads == nil || s.ordersStore() == nil {
		return nil, kith.Errorf(kith.EUNAVAILABLE, "Order files cannot be imported before the instance's keys are loaded.")
	}
	return s.OrderUploads, nil
}

func (s *Server) importMaxSize() string {
	max := s.OrderUploads.MaxBytes
	if max <= 0 {
		max = orders.DefaultMaxBytes
	}
	return sizeText(max)
}

// sizeText writes a file size for people: 12 MB, 300 KB.
func sizeText(n int64) string {
	if n >= 1<<20 {
		return num(int(n>>20)) + " MB"
	}
	return num(int((n+1023)>>10)) + " KB"
}

// ordersImportPage shows the upload form.
func (s *Server) ordersImportPage(w http.ResponseWriter, r *http.Request) {
	up, err := s.importUploads()
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := &importUploadView{MaxSize: s.importMaxSize()}
	if v.Recent, err = s.recentUploads(up); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orders-import-upload", v)
}

// ordersImportUpload streams the uploaded file to the data folder, reads
// its header row and recognises its mapping (a preset or a saved one);
// when it has one, the dry run starts at once.
func (s *Server) ordersImportUpload(w http.ResponseWriter, r *http.Request) {
	up, err := s.importUploads()
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := &importUploadView{MaxSize: s.importMaxSize()}
	fail := func(status int, err error) {
		p := s.problemOf(r, err)
		if p == nil {
			s.pageError(w, r, err)
			return
		}
		p.Status = status
		v.Problem = p
		v.Recent, _ = s.recentUploads(up)
		s.render(w, r, status, "orders-import-upload", v)
	}
	// The server's deadlines are for ordinary requests; its write deadline
	// runs from the request's start, so it moves too.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	rc.SetWriteDeadline(time.Now().Add(uploadTimeout + time.Minute))
	max := up.MaxBytes
	if max <= 0 {
		max = orders.DefaultMaxBytes
	}
	// The multipart framing and the shop's name come on top of the file.
	r.Body = http.MaxBytesReader(w, r.Body, max+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, kith.Errorf(kith.EINVALID, "Choose a CSV or XLSX file to upload."))
		return
	}
	var saved *orders.Upload
	for saved == nil {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(uploadStatus(err), uploadError(err, s.importMaxSize()))
			return
		}
		switch part.FormName() {
		case "shop":
			b, _ := io.ReadAll(io.LimitReader(part, maxParam*4))
			v.Shop = strings.TrimSpace(string(b))
		case "file":
			if part.FileName() == "" {
				continue
			}
			if saved, err = up.Save(r.Context(), part, part.FileName(), principal(r).Name); err != nil {
				fail(uploadStatus(err), uploadError(err, s.importMaxSize()))
				return
			}
		}
	}
	if saved == nil {
		fail(http.StatusBadRequest, kith.Errorf(kith.EINVALID, "Choose a CSV or XLSX file to upload."))
		return
	}
	saved.Shop = v.Shop
	if saved.Mapping, err = s.ordersStore().Recognise(r.Context(), saved.Header); err == nil {
		err = up.Put(saved)
	}
	if err == nil && saved.Mapping != nil {
		err = s.startImportRun(r, saved, orders.RunDry)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("order file uploaded", "by", principal(r).String(), "upload", saved.ID, "bytes", saved.Size, "format", saved.Format)
	http.Redirect(w, r, "/orders/import/"+saved.ID, http.StatusSeeOther)
}

// uploadStatus is 413 for a file over the limit, else 400.
func uploadStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.Is(err, orders.ErrTooLarge) || errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// uploadError says what went wrong with the body in a sentence.
func uploadError(err error, max string) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return kith.Errorf(kith.EINVALID, "The file is more than the %s an import reads; split it (by month, say) and upload the parts.", max)
	case kith.ErrorCode(err) != kith.EINTERNAL:
		return err
	}
	return kith.Errorf(kith.EINVALID, "The upload could not be read; try again.")
}
